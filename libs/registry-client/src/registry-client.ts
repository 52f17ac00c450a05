import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { RegistrySet } from '@larder/core';
import { Code, RpcError, createClient } from '@larder/rpc';
import type { ClientOptions, Logger, RpcClient } from '@larder/rpc';
import { backoffDelay } from '@larder/core';
import type { BackoffOptions } from '@larder/core';
import { sleep } from './sleep';
import { RegistryState } from './registry-state';

export interface RegistryClientOptions {
  /** The registry service, "host:port". */
  address: string;
  /** Follow only this project; empty or absent follows every project. */
  project?: string;
  /** Reconnect delays (default 100 ms doubling to 5 s). */
  backoff?: Partial<BackoffOptions>;
  logger?: Logger;
  /** Passed to createClient; channel options are merged over ours. */
  clientOptions?: ClientOptions;
  /**
   * Largest message accepted from the registry (default 16 MiB, the services' and the
   * registry's grpc.maxMessageBytes). The registry sends its stream in parts of about
   * 1 MiB; only one object larger than that travels alone, and the registry accepted it
   * within its own limit, so services should use the same setting as the registry.
   */
  maxMessageBytes?: number;
}

/** Stream failures that mean the registry is away (restarting, unreachable), not that the copy cannot take its data. */
const TRANSIENT = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED]);
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** One applied stream message, as onChange listeners see it. */
export interface RegistryUpdate {
  /** The version the copy is at now. */
  version: bigint;
  /** The version before this message. */
  previousVersion: bigint;
  /** True when the whole copy (of the watched scope) was replaced. */
  snapshot: boolean;
  changes: readonly registryV1.RegistryChange[];
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

type Listener<T> = (value: T) => void;

/**
 * An in-memory copy of the registry that follows RegistryService.WatchRegistry.
 * Reads never leave the process: they answer from the copy, also while the
 * registry is unreachable; the copy catches up (replay or snapshot) when the
 * stream is back. Call start() (or use RegistryClient.connect) and close().
 */
export class RegistryClient {
  /** The registry's rpcs, for writes and for reads the copy does not answer (discovery, materialization state). */
  readonly service: RpcClient<typeof registryV1.RegistryService>;
  private readonly state = new RegistryState();
  private readonly scope: string;
  private readonly backoff: BackoffOptions;
  private readonly logger: Logger | undefined;
  private readonly closing = new AbortController();
  private changeListeners = new Set<Listener<RegistryUpdate>>();
  private connectionListeners = new Set<Listener<ConnectionState>>();
  private readinessListeners = new Set<() => void>();
  private readonly address: string;
  /** A failure that keeps the copy from following (not a registry outage), until a message applies again. */
  private stuck: RpcError | undefined;
  /** Ask for a snapshot instead of a replay on the next attempt (a replay failed for good). */
  private resync = false;
  private connection: ConnectionState = 'disconnected';
  private failure: RpcError | undefined;
  private loop: Promise<void> | undefined;
  private reconnects = 0;

  constructor(options: RegistryClientOptions) {
    this.scope = options.project ?? '';
    this.backoff = { initialMs: options.backoff?.initialMs ?? 100, maxMs: options.backoff?.maxMs ?? 5000 };
    this.logger = options.logger;
    this.address = options.address;
    // grpc-js backs off reconnecting the channel on its own (up to two
    // minutes by default); keep it no slower than ours.
    this.service = createClient(registryV1.RegistryService, options.address, {
      ...options.clientOptions,
      channelOptions: {
        'grpc.initial_reconnect_backoff_ms': this.backoff.initialMs,
        'grpc.max_reconnect_backoff_ms': this.backoff.maxMs,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // grpc's default of 4 MiB stopped every service's copy for good after one larger apply.
        'grpc.max_receive_message_length': options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        ...options.clientOptions?.channelOptions,
      },
    });
  }

  /** A started client whose copy holds the registry's first snapshot (rejects after timeoutMs, default 10 s). */
  static async connect(options: RegistryClientOptions & { timeoutMs?: number }): Promise<RegistryClient> {
    const client = new RegistryClient(options).start();
    try {
      await client.ready(options.timeoutMs);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Starts following the change stream; idempotent. */
  start(): this {
    this.loop ??= this.follow();
    return this;
  }

  /** Resolves once the copy holds a first snapshot. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.waitUntil(() => this.hasSnapshot, timeoutMs, 'the first registry snapshot');
  }

  /** Resolves once the copy is at `version` or later. */
  waitForVersion(version: bigint, timeoutMs = 10_000): Promise<void> {
    return this.waitUntil(() => this.hasSnapshot && this.state.version >= version, timeoutMs, `registry version ${version}`);
  }

  /** The registry version the copy reflects (0n before the first snapshot). */
  get version(): bigint {
    return this.state.version;
  }

  get connectionState(): ConnectionState {
    return this.connection;
  }

  /** The last stream failure, while disconnected. */
  get lastError(): RpcError | undefined {
    return this.failure;
  }

  /** How many times the stream was re-opened after a failure. */
  get reconnectCount(): number {
    return this.reconnects;
  }

  /** Called after every applied message (snapshots included); returns an unsubscribe function. */
  onChange(listener: Listener<RegistryUpdate>): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Why the copy cannot serve, or undefined when it can: before the first snapshot, and
   * while the stream fails for a reason other than the registry being away (a message
   * over the size limit, data the copy cannot apply). A registry outage alone keeps the
   * copy serving what it has, as the design promises. Services pass the client as their
   * gRPC registration's readiness check.
   */
  notReadyReason(): string | undefined {
    if (this.connection === 'closed') return undefined;
    if (!this.hasSnapshot) return `no registry snapshot yet from ${this.address}${this.failure ? ` (${this.failure.message})` : ''}`;
    if (this.stuck !== undefined)
      return `the registry copy (version ${this.state.version}) cannot follow the registry at ${this.address}: ${this.stuck.message}`;
    return undefined;
  }

  /** Called whenever notReadyReason() may have changed; returns an unsubscribe function. */
  onReadinessChange(listener: () => void): () => void {
    this.readinessListeners.add(listener);
    return () => this.readinessListeners.delete(listener);
  }

  /** Called when the stream connects or drops; returns an unsubscribe function. */
  onConnectionChange(listener: Listener<ConnectionState>): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  projectNames(): string[] {
    return this.state.projectNames();
  }
  project(name: string): registryV1.Project | undefined {
    return this.state.project(name);
  }
  entity(project: string, name: string): registryV1.Entity | undefined {
    return this.state.get('entities', project, name);
  }
  entities(project: string): registryV1.Entity[] {
    return this.state.list('entities', project);
  }
  dataSource(project: string, name: string): registryV1.DataSource | undefined {
    return this.state.get('dataSources', project, name);
  }
  dataSources(project: string): registryV1.DataSource[] {
    return this.state.list('dataSources', project);
  }
  featureView(project: string, name: string): registryV1.FeatureView | undefined {
    return this.state.get('featureViews', project, name);
  }
  featureViews(project: string): registryV1.FeatureView[] {
    return this.state.list('featureViews', project);
  }
  onDemandFeatureView(project: string, name: string): registryV1.OnDemandFeatureView | undefined {
    return this.state.get('onDemandFeatureViews', project, name);
  }
  onDemandFeatureViews(project: string): registryV1.OnDemandFeatureView[] {
    return this.state.list('onDemandFeatureViews', project);
  }
  featureService(project: string, name: string): registryV1.FeatureService | undefined {
    return this.state.get('featureServices', project, name);
  }
  featureServices(project: string): registryV1.FeatureService[] {
    return this.state.list('featureServices', project);
  }
  savedDataset(project: string, name: string): registryV1.SavedDataset | undefined {
    return this.state.get('savedDatasets', project, name);
  }
  savedDatasets(project: string): registryV1.SavedDataset[] {
    return this.state.list('savedDatasets', project);
  }
  permission(project: string, name: string): registryV1.Permission | undefined {
    return this.state.get('permissions', project, name);
  }
  permissions(project: string): registryV1.Permission[] {
    return this.state.list('permissions', project);
  }
  /** A whole project, as @larder/core's RegistrySet; undefined for an unknown project. */
  registrySet(project: string): RegistrySet | undefined {
    return this.state.registrySet(project);
  }

  /** Stops following and closes the channel. Reads keep answering from the copy. */
  close(): void {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.service.close();
    this.setConnection('closed');
  }

  /** Resolves after close() once the follow loop has exited. */
  async closed(): Promise<void> {
    this.close();
    await this.loop;
  }

  private hasSnapshot = false;

  private async follow(): Promise<void> {
    let attempt = 0;
    while (!this.closing.signal.aborted) {
      const call = new AbortController();
      const stop = (): void => call.abort();
      this.closing.signal.addEventListener('abort', stop, { once: true });
      try {
        this.setConnection('connecting');
        await this.watchOnce(call, () => {
          attempt = 0;
        });
        // The server ended the stream (it never does on its own unless it is
        // shutting down): reconnect like after a failure.
        this.failure = new RpcError(Code.UNAVAILABLE, 'the registry closed the change stream');
      } catch (error) {
        if (this.closing.signal.aborted) break;
        this.failure = RpcError.from(error);
        if (!TRANSIENT.has(this.failure.code)) {
          this.stuck = this.failure;
          this.resync = true;
          this.logger?.error('the registry copy cannot follow the registry; not ready until it can', {
            error: this.failure.message,
            version: String(this.state.version),
          });
        }
        this.notifyReadiness();
      } finally {
        this.closing.signal.removeEventListener('abort', stop);
        call.abort();
      }
      if (this.closing.signal.aborted) break;
      this.setConnection('disconnected');
      const delay = backoffDelay(attempt++, this.backoff);
      this.logger?.warn('registry change stream lost; reconnecting', { error: this.failure?.message, delayMs: delay, version: String(this.state.version) });
      await sleep(delay, this.closing.signal);
      this.reconnects++;
    }
  }

  private async watchOnce(call: AbortController, onMessage: () => void): Promise<void> {
    const sinceVersion = this.hasSnapshot && !this.resync ? this.state.version : 0n;
    const stream = this.service.watchRegistry({ project: this.scope, sinceVersion }, { signal: call.signal });
    // The stream may stay silent until the next commit; a version check tells
    // us the registry is up, and whether it went back in time (a registry
    // recreated from scratch), in which case our copy needs a snapshot.
    this.service.getRegistryVersion({}, { signal: call.signal, timeoutMs: 5000 }).then(
      (res) => {
        if (res.version < this.state.version) {
          this.logger?.warn('registry version went backwards; reloading', { ours: String(this.state.version), theirs: String(res.version) });
          this.hasSnapshot = false;
          call.abort();
          return;
        }
        this.setConnection('connected');
      },
      () => undefined, // the stream reports the failure
    );
    // A large version comes in parts; it is applied whole, so readers never see half of it.
    let parts: registryV1.RegistryChange[] = [];
    let partsOf: bigint | undefined;
    for await (const part of stream) {
      if (partsOf !== undefined && part.version !== partsOf)
        throw new RpcError(Code.INTERNAL, `registry stream: a part of version ${part.version} arrived while version ${partsOf} was incomplete`);
      if (part.continued) {
        partsOf = part.version;
        parts.push(...part.changes);
        continue;
      }
      const message =
        partsOf === undefined
          ? part
          : create(registryV1.WatchRegistryResponseSchema, { version: part.version, snapshot: part.snapshot, changes: [...parts, ...part.changes] });
      parts = [];
      partsOf = undefined;
      if (!message.snapshot && (!this.hasSnapshot || this.resync)) continue; // a replay is useless without a base
      const previousVersion = this.state.version;
      this.state.apply(message, this.scope);
      if (message.snapshot) {
        this.hasSnapshot = true;
        this.resync = false;
      }
      this.failure = undefined;
      this.stuck = undefined;
      this.setConnection('connected');
      onMessage();
      this.emit({ version: message.version, previousVersion, snapshot: message.snapshot, changes: message.changes });
    }
  }

  private emit(update: RegistryUpdate): void {
    for (const listener of this.changeListeners) {
      try {
        listener(update);
      } catch (error) {
        this.logger?.error('registry onChange listener failed', { error });
      }
    }
    this.notifyWaiters();
    this.notifyReadiness();
  }

  private setConnection(state: ConnectionState): void {
    if (this.connection === state || this.connection === 'closed') return;
    this.connection = state;
    for (const listener of this.connectionListeners) listener(state);
    this.notifyWaiters();
    this.notifyReadiness();
  }

  private notifyReadiness(): void {
    for (const listener of this.readinessListeners) {
      try {
        listener();
      } catch (error) {
        this.logger?.error('registry readiness listener failed', { error });
      }
    }
  }

  private waiters = new Set<() => void>();

  private notifyWaiters(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (condition()) finish(undefined);
        else if (this.connection === 'closed') finish(new RpcError(Code.CANCELLED, `registry client closed while waiting for ${what}`));
      };
      const timer = setTimeout(() => {
        const cause = this.failure ? `: ${this.failure.message}` : '';
        finish(new RpcError(Code.DEADLINE_EXCEEDED, `timed out after ${timeoutMs} ms waiting for ${what}${cause}`));
      }, timeoutMs);
      const finish = (error: RpcError | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.waiters.add(check);
    });
  }
}
