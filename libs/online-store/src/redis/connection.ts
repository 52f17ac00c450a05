import type { Duplex } from 'node:stream';
import Redis, { Cluster, ReplyError, type ChainableCommander } from 'ioredis';
import { OnlineStoreError, StoreUnavailableError } from '../errors';
import { FramedEval, frameArgs } from './framed';
import { keySlot } from './key-slot';
import { FEAST_ENTITY_WRITE_LUA, FEAST_WRITE_LUA, PACKED_ENTITY_WRITE_LUA, PACKED_WRITE_LUA } from './scripts';

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db] of a single Redis. */
  url?: string;
  /** host:port (or redis://host:port) seeds of a Redis Cluster; used instead of url. */
  clusterNodes?: readonly string[];
  /** Deadline of a read when the call gives none, ms. Default 1000. */
  readTimeoutMs?: number;
  /** Deadline of a write or delete batch when the call gives none, ms. Default 10000. */
  writeTimeoutMs?: number;
}

export type WriteScript = 'larderPackedWrite' | 'larderFeastWrite';
/** The several-views-per-entity scripts, whose calls the client frames itself (FramedEval). */
const ENTITY_SCRIPTS = {
  larderPackedEntityWrite: Buffer.from(PACKED_ENTITY_WRITE_LUA, 'utf8'),
  larderFeastEntityWrite: Buffer.from(FEAST_ENTITY_WRITE_LUA, 'utf8'),
};
export type EntityWriteScript = keyof typeof ENTITY_SCRIPTS;
type ScriptCall = (args: readonly ScriptArg[]) => unknown;
type Target = Redis | Cluster | ChainableCommander;
type Command = (target: Target) => unknown;
export type ScriptArg = string | Buffer | number;

/** One row of a chunked write: its key and the script arguments that follow it in ARGV. */
export interface RowWrite {
  readonly key: Buffer;
  readonly args: readonly ScriptArg[];
}

/**
 * Rows per script call. Measured with 10-feature rows (write-throughput.ts): throughput
 * is the same from 32 to 1000 rows per call (the per-call cost is gone; what remains is
 * per row), while a bigger call holds Redis longer and reads queue behind it: 128 rows
 * take about 0.4 ms (packed) to 1.2 ms (feast) of Redis time.
 */
export const WRITE_CHUNK_ROWS = 128;

/** Entities per call of a several-views-per-entity script (each carries one row per view). */
export const ENTITY_CHUNK_ROWS = 64;

/**
 * One ioredis client (single node or cluster) with the calls the layouts need, each
 * ending within a deadline and failing with StoreUnavailableError when Redis is away.
 * Single node: plain commands on a socket corked for one event-loop turn. Cluster: one
 * pipeline per node, sent side by side. Every command touches one key, or keys of a
 * single slot, so nothing ever crosses slots.
 */
export class RedisConnection {
  readonly client: Redis | Cluster;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  private lastError: unknown;
  /** The socket corked for this turn of the event loop, if any. */
  private corked: Duplex | undefined;

  constructor(options: RedisConnectionOptions) {
    this.readTimeoutMs = options.readTimeoutMs ?? 1000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    const perNode = {
      connectTimeout: Math.max(this.readTimeoutMs, 1000),
      // A command waiting in the offline queue fails after one failed reconnection
      // instead of piling up; reconnection itself goes on forever.
      maxRetriesPerRequest: 1,
      // Off: see coalesceWrites for how concurrent reads share a socket write.
      enableAutoPipelining: false,
      commandTimeout: this.writeTimeoutMs,
      retryStrategy: (times: number) => Math.min(times * 100, 1000),
    };
    if (options.clusterNodes !== undefined && options.clusterNodes.length > 0) {
      this.client = new Cluster(
        options.clusterNodes.map((node) => {
          const url = new URL(node.includes('://') ? node : `redis://${node}`);
          return { host: url.hostname, port: Number(url.port || 6379) };
        }),
        {
          scaleReads: 'master',
          clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
          slotsRefreshTimeout: Math.max(this.readTimeoutMs, 1000),
          redisOptions: perNode,
        },
      );
    } else {
      if (options.url === undefined) throw new OnlineStoreError('redis online store: set url or clusterNodes');
      this.client = new Redis(options.url, perNode);
    }
    // Failures reach callers through their calls; without a listener ioredis logs each one.
    this.client.on('error', (error: unknown) => {
      this.lastError = error;
    });
    // No numberOfKeys: each call passes its own key count first.
    this.client.defineCommand('larderPackedWrite', { lua: PACKED_WRITE_LUA });
    this.client.defineCommand('larderFeastWrite', { lua: FEAST_WRITE_LUA });
  }

  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  /** HMGET of fields[i] from keys[i], for every i, in one round trip per node. */
  hmget(keys: readonly Buffer[], fields: readonly (readonly Buffer[])[], timeoutMs = this.readTimeoutMs): Promise<(Buffer | null)[][]> {
    const client = this.client;
    if (client instanceof Cluster) {
      // ioredis' cluster auto-pipelining groups Buffer keys of different slots into one
      // pipeline and fails it; a pipeline per node, as writes use, is right.
      const commands: Command[] = new Array<Command>(keys.length);
      for (let i = 0; i < keys.length; i++) commands[i] = (target) => target.hmgetBuffer(keys[i]!, ...fields[i]!);
      return this.run('read', timeoutMs, keys, commands) as Promise<(Buffer | null)[][]>;
    }
    // Plain commands, not a pipeline, on a corked socket: every command issued in this
    // turn of the event loop (this read's, and those of other requests being served at
    // the same moment) leaves in one socket write. One write per request was the largest
    // single cost of a 1 x 50 read at 32 in flight.
    this.coalesceWrites(client);
    const reads = new Array<Promise<(Buffer | null)[]>>(keys.length);
    for (let i = 0; i < keys.length; i++) reads[i] = client.hmgetBuffer(keys[i]!, ...fields[i]!);
    return withDeadline(Promise.all(reads), timeoutMs, 'read').catch((error: unknown) => {
      throw this.wrap(error, 'read');
    });
  }

  /**
   * Corks the client's socket until the next turn of the event loop, so that the commands
   * written meanwhile go out in one write. ioredis' own auto-pipelining batches the same
   * way, through a Pipeline object per turn; but a Pipeline defines a per-instance
   * accessor with a fresh closure, and V8's scavenger keeps such an object (with its
   * commands and replies) alive until a full GC. At one call in flight that was half of
   * what survived each scavenge, and scavenge pauses set the 1 x 50 read's p99.
   */
  private coalesceWrites(client: Redis): void {
    const stream = (client as unknown as { stream?: Duplex }).stream;
    if (stream === undefined || stream === this.corked || client.status !== 'ready') return;
    stream.cork();
    this.corked = stream;
    setImmediate(() => {
      this.corked = undefined;
      stream.uncork();
    });
  }

  /**
   * Writes rows with a chunked write script: ARGV is `shared` followed by each row's args,
   * KEYS the rows' keys, up to `chunkRows` rows per call, every call of the batch in one
   * pipeline (per node). Rows keep their order within a chunk and chunks keep theirs, so
   * rows of one key apply in batch order. In a cluster a chunk only holds keys of one
   * slot (a multi-key script may not cross slots): rows are grouped by slot first, and
   * with keys spread over 16384 slots most groups are single rows, one call each.
   * Returns the number of rows the scripts skipped.
   */
  async writeRows(
    script: WriteScript,
    shared: readonly ScriptArg[],
    rows: readonly RowWrite[],
    timeoutMs = this.writeTimeoutMs,
    chunkRows = WRITE_CHUNK_ROWS,
  ): Promise<number> {
    const replies = await this.runChunked(
      script,
      shared,
      rows.map((row) => row.key),
      timeoutMs,
      chunkRows,
      (args, indexes, from, to) => {
        for (let i = from; i < to; i++) for (const arg of rows[indexes[i]!]!.args) args.push(arg);
      },
    );
    let skipped = 0;
    for (const reply of replies) skipped += Number(reply);
    return skipped;
  }

  /**
   * writeRows for the several-views-per-entity scripts: entity i's key is keys[i] and its
   * arguments, as RESP bulk strings framed by the caller, are rows[ends[i - 1] ..
   * ends[i]), args[i] - args[i - 1] of them. Each call is sent as written (FramedEval),
   * from a copy made before this returns: the caller may reuse `rows` at once. Returns
   * the rows the scripts skipped, per view of `views`.
   */
  async writeEntityRows(
    script: EntityWriteScript,
    shared: readonly ScriptArg[],
    keys: readonly Buffer[],
    rows: Buffer,
    ends: Uint32Array,
    args: Uint32Array,
    views: number,
    timeoutMs = this.writeTimeoutMs,
    chunkRows = ENTITY_CHUNK_ROWS,
  ): Promise<number[]> {
    const body = ENTITY_SCRIPTS[script];
    const head = frameArgs(shared);
    const firstKeys: Buffer[] = [];
    const commands: Command[] = [];
    const before = (counts: Uint32Array, i: number): number => (i === 0 ? 0 : counts[i - 1]!);
    this.chunkKeys(keys, chunkRows, (indexes, from, to) => {
      const chunkKeys = new Array<Buffer>(to - from);
      let argc = shared.length;
      for (let i = from; i < to; i++) {
        const entity = indexes[i]!;
        chunkKeys[i - from] = keys[entity]!;
        argc += args[entity]! - before(args, entity);
      }
      const sections = entitySections(rows, ends, indexes, from, to);
      const call = new FramedEval(body, chunkKeys, [head, sections], argc);
      firstKeys.push(chunkKeys[0]!);
      // Every target (client, cluster, pipeline) has sendCommand; ChainableCommander's type leaves it out.
      commands.push((target) => (target as unknown as Pick<Redis, 'sendCommand'>).sendCommand(call));
    });
    if (commands.length === 0) return new Array<number>(views).fill(0);
    return skippedPerView(await this.run('write', timeoutMs, firstKeys, commands), views);
  }

  /**
   * Calls `script` over keys, up to chunkRows keys per call, ARGV being `shared` followed
   * by what `tail` adds for the call's keys (indexes[from .. to) into keys).
   */
  private async runChunked(
    script: WriteScript,
    shared: readonly ScriptArg[],
    keys: readonly Buffer[],
    timeoutMs: number,
    chunkRows: number,
    tail: (args: ScriptArg[], indexes: ArrayLike<number>, from: number, to: number) => void,
  ): Promise<unknown[]> {
    const firstKeys: Buffer[] = [];
    const commands: Command[] = [];
    const addChunk = (indexes: ArrayLike<number>, from: number, to: number) => {
      const args: ScriptArg[] = [to - from];
      for (let i = from; i < to; i++) args.push(keys[indexes[i]!]!);
      for (const arg of shared) args.push(arg);
      tail(args, indexes, from, to);
      firstKeys.push(keys[indexes[from]!]!);
      commands.push((target) => (target as unknown as Record<WriteScript, ScriptCall>)[script](args));
    };
    this.chunkKeys(keys, chunkRows, addChunk);
    if (commands.length === 0) return [];
    return this.run('write', timeoutMs, firstKeys, commands);
  }

  /**
   * Cuts keys into calls of up to chunkRows keys, in order: on a single node consecutive
   * runs; in a cluster per slot first (a multi-key script may not cross slots).
   */
  private chunkKeys(keys: readonly Buffer[], chunkRows: number, addChunk: (indexes: ArrayLike<number>, from: number, to: number) => void): void {
    const chunk = (indexes: ArrayLike<number>) => {
      for (let from = 0; from < indexes.length; from += chunkRows) addChunk(indexes, from, Math.min(indexes.length, from + chunkRows));
    };
    if (this.client instanceof Cluster) {
      const bySlot = new Map<number, number[]>();
      for (let i = 0; i < keys.length; i++) {
        const slot = keySlot(keys[i]!);
        const group = bySlot.get(slot);
        if (group === undefined) bySlot.set(slot, [i]);
        else group.push(i);
      }
      for (const group of bySlot.values()) chunk(group);
    } else {
      chunk(new Uint32Array(keys.length).map((_, i) => i));
    }
  }

  /** HDEL fields from each key. */
  async hdel(keys: readonly Buffer[], fields: readonly Buffer[], timeoutMs = this.writeTimeoutMs): Promise<void> {
    await this.run(
      'delete',
      timeoutMs,
      keys,
      keys.map(
        (key): Command =>
          (target) =>
            target.hdel(key, ...fields),
      ),
    );
  }

  /** Every key matching the glob pattern, on every master, a page at a time. */
  async *scan(pattern: Buffer): AsyncGenerator<Buffer[]> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        let page: [Buffer, Buffer[]];
        try {
          // ioredis types MATCH as a string, but sends a Buffer as is: patterns hold binary key bytes.
          const reply = node.scanBuffer(cursor, 'MATCH', pattern as unknown as string, 'COUNT', 1000);
          page = await withDeadline(reply, this.writeTimeoutMs, 'scan');
        } catch (error) {
          throw this.wrap(error, 'scan');
        }
        cursor = page[0].toString();
        if (page[1].length > 0) yield page[1];
      } while (cursor !== '0');
    }
  }

  async close(): Promise<void> {
    try {
      await withDeadline(this.client.quit(), 1000, 'quit');
    } catch {
      // Redis is away or slow: drop the sockets without the polite goodbye.
    }
    this.client.disconnect();
  }

  private async run(what: string, timeoutMs: number, keys: readonly Buffer[], commands: readonly Command[]): Promise<unknown[]> {
    try {
      const client = this.client;
      const results = await withDeadline(
        client instanceof Cluster ? this.pipelinePerNode(client, keys, commands) : this.sendCorked(client, commands),
        timeoutMs,
        what,
      );
      const out = new Array<unknown>(results.length);
      const lost: number[] = [];
      for (let i = 0; i < results.length; i++) {
        const [error, value] = results[i]!;
        if (error === null) out[i] = value;
        else if (error.message.startsWith('NOSCRIPT')) lost.push(i);
        else throw error;
      }
      if (lost.length > 0) {
        // The server lost its script cache (a restart) behind ioredis' back; a direct
        // script call falls back from EVALSHA to EVAL.
        await withDeadline(Promise.all(lost.map(async (i) => (out[i] = await commands[i]!(client)))), timeoutMs, what);
      }
      return out;
    } catch (error) {
      throw this.wrap(error, what);
    }
  }

  /**
   * The commands sent as plain commands on a socket corked for this turn of the event
   * loop: they leave in one write, as a pipeline's would, without the pipeline copying
   * every command's bytes into one more buffer (megabytes per materialization batch).
   */
  private async sendCorked(client: Redis, commands: readonly Command[]): Promise<Reply[]> {
    this.coalesceWrites(client);
    const settled = await Promise.allSettled(commands.map((command) => command(client) as Promise<unknown>));
    return settled.map((result): Reply =>
      result.status === 'fulfilled' ? [null, result.value] : [result.reason instanceof Error ? result.reason : new Error(String(result.reason)), undefined],
    );
  }

  private async pipelinePerNode(client: Cluster, keys: readonly Buffer[], commands: readonly Command[]): Promise<Reply[]> {
    if (client.status !== 'ready') await clusterReady(client);
    const groups = new Map<string, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const slot = keySlot(keys[i]!);
      const node = client.slots[slot]?.join(',') ?? `slot ${slot}`;
      let group = groups.get(node);
      if (group === undefined) groups.set(node, (group = []));
      group.push(i);
    }
    const out = new Array<Reply>(keys.length);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const results = await pipelined(client.pipeline(), commands, indexes);
        results.forEach((result, j) => (out[indexes[j]!] = result));
      }),
    );
    return out;
  }

  private wrap(error: unknown, what: string): Error {
    if (error instanceof OnlineStoreError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ReplyError && !/^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|MOVED|ASK)\b/.test(message)) {
      return new OnlineStoreError(`redis ${what} failed: ${message}`, { cause: error });
    }
    const detail = this.lastError instanceof Error && this.lastError.message !== message ? ` (${this.lastError.message})` : '';
    return new StoreUnavailableError(`redis unavailable during ${what}: ${message}${detail}`, { cause: error });
  }
}

type Reply = [error: Error | null, value: unknown];

/** Entities indexes[from .. to)'s row sections: a slice of rows when they are adjacent. */
function entitySections(rows: Buffer, ends: Uint32Array, indexes: ArrayLike<number>, from: number, to: number): Buffer {
  const start = (i: number): number => (i === 0 ? 0 : ends[i - 1]!);
  const first = indexes[from]!;
  const last = indexes[to - 1]!;
  if (last - first === to - 1 - from) return rows.subarray(start(first), ends[last]!);
  const parts: Buffer[] = [];
  for (let i = from; i < to; i++) parts.push(rows.subarray(start(indexes[i]!), ends[indexes[i]!]!));
  return Buffer.concat(parts);
}

/** Sums the per-view skipped counts of entity script replies. */
function skippedPerView(replies: readonly unknown[], views: number): number[] {
  const skipped = new Array<number>(views).fill(0);
  for (const reply of replies) {
    const counts = reply as number[];
    for (let v = 0; v < views; v++) skipped[v]! += Number(counts[v] ?? 0);
  }
  return skipped;
}

async function pipelined(pipeline: ChainableCommander, commands: readonly Command[], indexes: Iterable<number>): Promise<Reply[]> {
  for (const i of indexes) commands[i]!(pipeline);
  return (await pipeline.exec()) ?? [];
}

/** Waits until the cluster client knows the slot map (it learns it while connecting). */
function clusterReady(client: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = () => done();
    const onEnd = () => done(new StoreUnavailableError('redis cluster connection ended'));
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/**
 * Rejects with StoreUnavailableError when the promise has not settled within ms. One
 * promise settled by whichever comes first, not Promise.race of a deadline promise with a
 * catch and a finally: every online read passes here, and those were four promises more
 * per read. A rejection after the deadline is still handled (never unhandled).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailableError(`redis did not answer the ${what} within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
