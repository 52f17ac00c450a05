import { checkEntityBatch, entityKeyEncoder, rowEventTs } from '../columns';
import type { CallOptions, EntityBatch, OnlineStore, ViewDescriptor, ViewRead, ViewReadResult, WriteResult, WriteRow } from '../types';
import { RowsBuffer } from './rows-buffer';
import { RedisConnection, type RedisConnectionOptions, type RowWrite } from './connection';
import { FeastLayout, PackedLayout, type RedisLayout } from './layouts';

export type RedisLayoutName = 'packed' | 'feast';

export interface RedisOnlineStoreOptions extends RedisConnectionOptions {
  /** `packed` (default): one field per view. `feast`: Feast's own layout, for sharing a Redis with Feast. */
  layout?: RedisLayoutName;
  /** Packed layout only: the start of every key. Default `larder:`. */
  keyPrefix?: string;
}

const DELETE_CHUNK = 500;

/** The online store on Redis or Redis Cluster (ioredis). */
export class RedisOnlineStore implements OnlineStore {
  readonly layout: RedisLayoutName;
  private readonly connection: RedisConnection;
  private readonly codec: RedisLayout;
  // One for every entity write: the calls copy their rows out before writeEntities first
  // waits, so no two writes ever hold it at once, and reusing it spares the collector
  // megabytes of external memory per batch.
  private readonly rows = new RowsBuffer(64 * 1024);

  constructor(options: RedisOnlineStoreOptions) {
    this.layout = options.layout ?? 'packed';
    this.codec = this.layout === 'feast' ? new FeastLayout() : new PackedLayout(options.keyPrefix ?? 'larder:');
    this.connection = new RedisConnection(options);
  }

  /** The underlying ioredis client, for health checks and tests. */
  get client(): RedisConnection['client'] {
    return this.connection.client;
  }

  async read(requests: readonly ViewRead[], options?: CallOptions): Promise<ViewReadResult[]> {
    // Entity keys shared by several views (the usual case) become one HMGET of all
    // their fields; every HMGET of the request goes out in one pipeline.
    const groupOf = new Map<string, number>();
    const keys: Buffer[] = [];
    const fields: Buffer[][] = [];
    const where: Int32Array[] = [];
    for (const request of requests) {
      const viewFields = this.codec.readFields(request.view, request.features);
      const at = new Int32Array(request.entityKeys.length * 2);
      request.entityKeys.forEach((entityKey, i) => {
        const key = this.codec.key(request.view, entityKey);
        const id = key.toString('latin1');
        let group = groupOf.get(id);
        if (group === undefined) {
          group = keys.length;
          groupOf.set(id, group);
          keys.push(key);
          fields.push([]);
        }
        const list = fields[group]!;
        at[2 * i] = group;
        at[2 * i + 1] = list.length;
        for (const field of viewFields) list.push(field);
      });
      where.push(at);
    }
    const replies = keys.length === 0 ? [] : await this.connection.hmget(keys, fields, options?.timeoutMs);
    return requests.map((request, r) => {
      const at = where[r]!;
      const rows: ViewReadResult = new Array(request.entityKeys.length);
      for (let i = 0; i < rows.length; i++) {
        rows[i] = this.codec.decode(request.view, request.features, replies[at[2 * i]!]!, at[2 * i + 1]!);
      }
      return rows;
    });
  }

  async write(view: ViewDescriptor, rows: readonly WriteRow[], options?: CallOptions): Promise<WriteResult> {
    // Encode everything first so a bad row fails the batch before anything is written.
    const encoded: RowWrite[] = rows.map((row) => this.codec.writeRow(view, row));
    const skipped = await this.connection.writeRows(this.codec.script, this.codec.writeShared(view), encoded, options?.timeoutMs);
    return { written: rows.length - skipped, skipped };
  }

  /** One compare-and-set script call per chunk of entities, covering all their views. */
  async writeEntities(batch: EntityBatch, options?: CallOptions): Promise<WriteResult[]> {
    checkEntityBatch(batch);
    const views = batch.views;
    const count = views.length;
    if (count === 0) return [];
    const encoder = entityKeyEncoder(batch.joinKeys);
    const project = views[0]!.view.project;
    const perView = new Array<number>(count).fill(0);
    // Encode everything first so a bad row fails the batch before anything is written.
    const keys: Buffer[] = [];
    const ends = new Uint32Array(batch.size);
    const args = new Uint32Array(batch.size);
    let argc = 0;
    const out = this.rows;
    out.at = 0;
    for (let i = 0; i < batch.size; i++) {
      const from = out.at;
      let entityArgs = 0;
      let any = false;
      for (let v = 0; v < count; v++) {
        const columns = views[v]!;
        const row = columns.rowOf[i]!;
        if (row < 0) {
          entityArgs += out.emptyArgument();
        } else {
          entityArgs += this.codec.appendColumns(out, columns, row, rowEventTs(columns, row));
          perView[v]!++;
          any = true;
        }
      }
      if (any) {
        argc += entityArgs;
        ends[keys.length] = out.at;
        args[keys.length] = argc;
        keys.push(this.codec.entityKey(project, encoder, batch.keyColumns, i));
      } else {
        out.at = from;
      }
    }
    const shared = this.codec.entityShared(views.map((v) => v.view));
    const skipped = await this.connection.writeEntityRows(this.codec.entityScript, shared, keys, out.buf, ends, args, count, options?.timeoutMs);
    return perView.map((n, v) => ({ written: n - skipped[v]!, skipped: skipped[v]! }));
  }

  async deleteView(view: ViewDescriptor): Promise<void> {
    let keys: Buffer[] = [];
    let fields: readonly Buffer[] | undefined;
    const flush = async () => {
      if (keys.length > 0 && fields !== undefined) await this.connection.hdel(keys, fields);
      keys = [];
    };
    for await (const page of this.connection.scan(this.codec.scanPattern(view))) {
      for (const key of page) {
        const own = this.codec.fieldsToDelete(view, key);
        if (own === undefined) continue;
        fields = own;
        keys.push(key);
        if (keys.length >= DELETE_CHUNK) await flush();
      }
    }
    await flush();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
