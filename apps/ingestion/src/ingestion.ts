import { DEFAULT_MAX_FUTURE_SKEW_MS, LOOPBACK_ALLOW_LIST } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import { create } from '@bufbuild/protobuf';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { ingestionV1, tfmdV0 } from '@larder/proto';
import { Code, RpcError, implement } from '@larder/rpc';
import type { HandlerContext, Logger, ServiceRegistration } from '@larder/rpc';
import { SchemaRegistryCache } from './kafka/decode';
import { KafkaConsumers } from './kafka/consumers';
import type { WatchedRegistry } from './kafka/consumers';
import type { ConsumerSettings } from './kafka/source-consumer';
import { IngestionMetrics } from './metrics';
import { principalOf } from '@larder/auth';
import type { Principal } from '@larder/auth';
import type { WriteAccess } from './enforce';
import { PushWriter, destinationOf, rowBatchInput } from './push';
import type { InputRows, PushDestination, WriteOutcome } from './push';

export interface IngestionOptions {
  registry: WatchedRegistry;
  /** False until the registry copy holds its first snapshot: calls get UNAVAILABLE meanwhile. */
  registryReady: () => boolean;
  online: OnlineStore;
  offline: OfflineStore | undefined;
  logger: Logger;
  /** Project of pushes that name none, and the only project consumed; empty: see the README. */
  project: string;
  /** Relative file-source paths are resolved against this folder. */
  basePath: string;
  storeTimeoutMs: number;
  /** Pushed event times later than now + this are refused; default DEFAULT_MAX_FUTURE_SKEW_MS. */
  maxFutureSkewMs?: number;
  /** Kafka consumer settings; undefined runs no consumers. */
  kafka: ConsumerSettings | undefined;
  /** Hosts a source may make the consumers dial; loopback when not given. */
  endpoints?: EndpointAllowList;
  metrics?: IngestionMetrics;
  /** Who may write what; without it every push is taken (embedded use and tests of the write path). */
  access?: WriteAccess;
}

/** The ingestion service: Push and WriteToOnlineStore, and the Kafka consumers the registry asks for. */
export class Ingestion {
  readonly metrics: IngestionMetrics;
  readonly writer: PushWriter;
  readonly consumers: KafkaConsumers | undefined;

  constructor(private readonly options: IngestionOptions) {
    this.metrics = options.metrics ?? new IngestionMetrics();
    this.writer = new PushWriter({
      registry: options.registry,
      online: options.online,
      offline: options.offline,
      defaultProject: options.project,
      basePath: options.basePath,
      storeTimeoutMs: options.storeTimeoutMs,
      maxFutureSkewMs: options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
      onSchemaViolation: (target, violation, outcome) =>
        this.metrics.schemaViolations.inc({
          project: target.project,
          view: target.name,
          feature: violation.feature,
          type: tfmdV0.AnomalyInfo_Type[violation.type] ?? String(violation.type),
          outcome,
        }),
    });
    if (options.kafka !== undefined) {
      this.consumers = new KafkaConsumers({
        registry: options.registry,
        project: options.project,
        basePath: options.basePath,
        online: options.online,
        offline: options.offline,
        schemas: new SchemaRegistryCache(),
        metrics: this.metrics,
        logger: options.logger,
        settings: options.kafka,
        endpoints: options.endpoints ?? LOOPBACK_ALLOW_LIST,
      });
      const consumers = this.consumers;
      this.metrics.rates = () => consumers.rates();
    }
  }

  /** Starts the consumers (those of the current registry copy, then of every change). */
  async start(): Promise<void> {
    await this.consumers?.start();
  }

  /** Stops the consumers; uncommitted batches are redelivered to whoever consumes next. */
  async stop(): Promise<void> {
    await this.consumers?.stop();
  }

  private checkReady(): void {
    if (!this.options.registryReady()) throw new RpcError(Code.UNAVAILABLE, 'the registry has not been reached yet; retry shortly');
  }

  /**
   * The project a write is checked in, before it is validated: so that a caller who may not
   * write learns nothing, not even whether the project or source exists.
   */
  private projectToCheck(requested: string): string {
    if (requested !== '' || this.options.project !== '') return requested !== '' ? requested : this.options.project;
    const names = this.options.registry.projectNames();
    return names.length === 1 ? (names[0] as string) : '';
  }

  private caller(principal: Principal | undefined): Principal | undefined {
    if (this.options.access !== undefined && principal === undefined)
      throw new Error('ingestion: a write without its caller; every front door must pass the principal');
    return principal;
  }

  private callerOf(ctx: HandlerContext): Principal | undefined {
    return this.options.access === undefined ? undefined : principalOf(ctx);
  }

  /** A push through a named push source (gRPC and HTTP). */
  async push(
    projectName: string,
    sourceName: string,
    input: (source: { timestampColumn: string; createdColumn: string }) => InputRows,
    destination: PushDestination,
    timeRemainingMs: number | undefined,
    principal?: Principal,
    requestId?: string,
  ): Promise<WriteOutcome> {
    this.checkReady();
    const caller = this.caller(principal);
    const checks = caller === undefined ? undefined : this.options.access?.push(caller, this.projectToCheck(projectName), sourceName, destination, requestId);
    const project = this.writer.project(projectName);
    const source = this.writer.pushSource(project, sourceName);
    const rows = input({ timestampColumn: this.writer.timestampColumn(project, source), createdColumn: source.createdTimestampColumn });
    const outcome = await this.count('push', this.writer.push(project, source, rows, destination, timeRemainingMs), rows.rowCount);
    if (caller !== undefined && checks !== undefined) this.options.access?.written(caller, checks, requestId);
    return outcome;
  }

  async writeToOnlineStore(
    projectName: string,
    view: string,
    input: () => InputRows,
    timeRemainingMs: number | undefined,
    principal?: Principal,
    requestId?: string,
  ): Promise<WriteOutcome> {
    this.checkReady();
    const caller = this.caller(principal);
    const checks = caller === undefined ? undefined : this.options.access?.onlineWrite(caller, this.projectToCheck(projectName), view, requestId);
    const project = this.writer.project(projectName);
    const rows = input();
    const outcome = await this.count('write_to_online_store', this.writer.writeToOnlineStore(project, view, rows, timeRemainingMs), rows.rowCount);
    if (caller !== undefined && checks !== undefined) this.options.access?.written(caller, checks, requestId);
    return outcome;
  }

  private async count(rpc: string, outcome: Promise<WriteOutcome>, rows: number): Promise<WriteOutcome> {
    try {
      const result = await outcome;
      this.metrics.pushedRows.inc({ rpc, outcome: 'written' }, Number(result.rowsWritten));
      this.metrics.pushedRows.inc({ rpc, outcome: 'stale' }, Number(result.rowsSkippedStale));
      this.metrics.pushedRows.inc({ rpc, outcome: 'rejected' }, result.failures.length);
      return result;
    } catch (error) {
      this.metrics.pushedRows.inc({ rpc, outcome: 'failed' }, rows);
      throw error;
    }
  }

  /** The gRPC IngestionService. */
  service(): ServiceRegistration {
    return implement(ingestionV1.IngestionService, {
      push: async (request, ctx) => {
        const outcome = await this.push(
          request.project,
          request.pushSource,
          () => rowBatchInput(request.rows),
          destinationOf(request.mode),
          ctx.timeRemainingMs(),
          this.callerOf(ctx),
          ctx.requestId,
        );
        return create(ingestionV1.PushResponseSchema, outcome);
      },
      writeToOnlineStore: async (request, ctx) => {
        const outcome = await this.writeToOnlineStore(
          request.project,
          request.featureView,
          () => rowBatchInput(request.rows),
          ctx.timeRemainingMs(),
          this.callerOf(ctx),
          ctx.requestId,
        );
        return create(ingestionV1.WriteToOnlineStoreResponseSchema, outcome);
      },
      getConsumerStatus: async (request, ctx) => {
        const statuses = this.consumers?.statuses(request.project, request.dataSource) ?? [];
        const access = this.options.access;
        return create(ingestionV1.GetConsumerStatusResponseSchema, {
          consumers: access === undefined ? statuses : access.visibleConsumers(principalOf(ctx), statuses),
        });
      },
    });
  }
}
