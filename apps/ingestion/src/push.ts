import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { futureTimeProblem, timestampMs, TimestampRangeError } from '@larder/core';
import { eventMsFromParts } from '@larder/online-store';
import { OfflineStoreError, PathDeniedError } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { StoreUnavailableError } from '@larder/online-store';
import type { OnlineStore } from '@larder/online-store';
import { ingestionV1 } from '@larder/proto';
import type { registryV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { OfflineBatches, RowProblem, recordPlan, shapeRow, violationReason, writeOnline } from './rows';
import type { ColumnReader, ViolationListener } from './rows';
import type { ShapedRow } from './rows';
import { UnwritableViewError, FieldMap, compileTarget, targetsOf } from './targets';
import type { RegistryView, TypedColumn, ViewTarget } from './targets';
import { ValueError, checkValue, rawToValue, toMillis } from './values';

/**
 * Rows as they arrive, before they are checked against a view: columns by
 * name, an event time per row. Readers throw ValueError for a bad value.
 */
export interface InputRows {
  readonly rowCount: number;
  has(column: string): boolean;
  read(row: number, column: string, type: TypedColumn['type']): typesV1.Value | undefined;
  /** Milliseconds; throws ValueError. */
  eventTs(row: number): number;
  /** Milliseconds, or undefined when not given. */
  createdTs(row: number): number | undefined;
  /** The column event times come from, for failure reports ('' when they are not a column). */
  readonly timestampColumn: string;
}

/** A RowBatch of typed Values (gRPC). */
export function rowBatchInput(batch: typesV1.RowBatch | undefined): InputRows {
  const columns = batch?.columns ?? {};
  const lengths = Object.entries(columns).map(([name, c]) => [name, c.val.length] as const);
  const events = batch?.eventTimestamps ?? [];
  const created = batch?.createdTimestamps ?? [];
  const rowCount = lengths[0]?.[1] ?? events.length;
  for (const [name, length] of lengths) {
    if (length !== rowCount)
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `rows.columns: column '${name}' has ${length} values but '${lengths[0]?.[0] ?? ''}' has ${rowCount}; every column needs one value per row`,
      );
  }
  if (events.length !== rowCount)
    throw new RpcError(Code.INVALID_ARGUMENT, `rows.event_timestamps: ${events.length} timestamps for ${rowCount} rows; give one event timestamp per row`);
  if (created.length !== 0 && created.length !== rowCount)
    throw new RpcError(Code.INVALID_ARGUMENT, `rows.created_timestamps: ${created.length} timestamps for ${rowCount} rows; give one per row or none`);
  return {
    rowCount,
    timestampColumn: '',
    has: (column) => column in columns,
    read: (row, column, type) => checkValue(type, columns[column]?.val[row]),
    eventTs: (row) => eventMsOf(events[row] as NonNullable<(typeof events)[number]>, `rows.event_timestamps[${row}]`),
    createdTs: (row) =>
      created.length === 0 ? undefined : eventMsOf(created[row] as NonNullable<(typeof created)[number]>, `rows.created_timestamps[${row}]`),
  };
}

/** A Timestamp as an event time (ms, microseconds in the fraction; finer digits dropped). */
function eventMsOf(ts: Timestamp, field: string): number {
  try {
    timestampMs(ts, field);
  } catch (error) {
    if (error instanceof TimestampRangeError) throw new ValueError(error.message);
    throw error;
  }
  return eventMsFromParts(Number(ts.seconds), ts.nanos);
}

/** A Feast-style data frame: `{ column: [value, ...] }` of JSON values; event times in `timestampColumn`. */
export function dataFrameInput(df: Readonly<Record<string, unknown>>, timestampColumn: string, createdColumn: string): InputRows {
  const entries = Object.entries(df);
  for (const [name, values] of entries) {
    if (!Array.isArray(values)) throw new RpcError(Code.INVALID_ARGUMENT, `df.${name}: expected a list of values, one per row`);
  }
  const columns = df as Readonly<Record<string, unknown[]>>;
  const rowCount = (entries[0]?.[1] as unknown[] | undefined)?.length ?? 0;
  for (const [name, values] of entries) {
    if ((values as unknown[]).length !== rowCount)
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `df.${name}: ${(values as unknown[]).length} values but '${entries[0]?.[0] ?? ''}' has ${rowCount}; every column needs one value per row`,
      );
  }
  if (rowCount > 0 && !(timestampColumn in columns))
    throw new RpcError(Code.INVALID_ARGUMENT, `df: no '${timestampColumn}' column; the source's timestamp_field holds each row's event time`);
  return {
    rowCount,
    timestampColumn,
    has: (column) => column in columns,
    read: (row, column, type) => rawToValue(type, columns[column]?.[row]),
    eventTs: (row) => toMillis(columns[timestampColumn]?.[row]),
    createdTs: (row) => {
      const raw = createdColumn === '' ? undefined : columns[createdColumn]?.[row];
      return raw === undefined || raw === null ? undefined : toMillis(raw);
    },
  };
}

export interface PushOptions {
  registry: RegistryView;
  online: OnlineStore;
  offline: OfflineStore | undefined;
  /** Project of requests that name none; empty means the registry's only project. */
  defaultProject: string;
  /** Relative file source paths are resolved against this folder. */
  basePath: string;
  /** Deadline of a store write when the call has none (or a later one). */
  storeTimeoutMs: number;
  /** Event times later than now + this are refused (see FUTURE_SKEW_SETTING). */
  maxFutureSkewMs: number;
  /** Told of each row breaking its view's schema (for the metrics). */
  onSchemaViolation?: ViolationListener;
}

export type PushDestination = 'online' | 'offline' | 'online_and_offline';

export function destinationOf(mode: ingestionV1.PushMode): PushDestination {
  switch (mode) {
    case ingestionV1.PushMode.OFFLINE:
      return 'offline';
    case ingestionV1.PushMode.ONLINE_AND_OFFLINE:
      return 'online_and_offline';
    case ingestionV1.PushMode.ONLINE:
    case ingestionV1.PushMode.UNSPECIFIED:
      return 'online';
    default:
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `mode: unknown push mode ${String(mode)}; use PUSH_MODE_ONLINE, PUSH_MODE_OFFLINE or PUSH_MODE_ONLINE_AND_OFFLINE`,
      );
  }
}

export interface WriteOutcome {
  rowsWritten: bigint;
  rowsSkippedStale: bigint;
  failures: ingestionV1.RowFailure[];
}

/** Push and WriteToOnlineStore, shared by the gRPC service and the HTTP endpoint. */
export class PushWriter {
  constructor(private readonly options: PushOptions) {}

  project(requested: string): string {
    if (requested !== '') {
      if (!this.options.registry.projectNames().includes(requested)) throw new RpcError(Code.NOT_FOUND, `project '${requested}' is not in the registry`);
      return requested;
    }
    if (this.options.defaultProject !== '') return this.options.defaultProject;
    const names = this.options.registry.projectNames();
    if (names.length === 1) return names[0] as string;
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      `project: required, the registry holds ${names.length === 0 ? 'no projects' : `several projects (${names.join(', ')})`}`,
    );
  }

  /** The push source and how its rows are read; NOT_FOUND / FAILED_PRECONDITION as the contract says. */
  pushSource(project: string, name: string): registryV1.DataSource {
    if (name === '') throw new RpcError(Code.INVALID_ARGUMENT, 'push_source: required; name the push source to write through');
    const source = this.options.registry.dataSource(project, name);
    if (source === undefined) {
      const known = this.options.registry
        .dataSources(project)
        .filter((s) => s.kind.case === 'push')
        .map((s) => s.name);
      throw new RpcError(
        Code.NOT_FOUND,
        `push source '${name}' is not in project '${project}'${known.length > 0 ? ` (push sources: ${known.join(', ')})` : ''}`,
      );
    }
    if (source.kind.case !== 'push')
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `push_source: data source '${name}' is a ${source.kind.case ?? 'source without kind'} source, not a push source`,
      );
    return source;
  }

  /** The event-time column of a push source's rows in a data frame: its timestamp_field, else its batch source's, else `event_timestamp`. */
  timestampColumn(project: string, source: registryV1.DataSource): string {
    if (source.timestampField !== '') return source.timestampField;
    const via = source.kind.case === 'push' ? source.kind.value.batchSource : '';
    const batch = via === '' ? undefined : this.options.registry.dataSource(project, via);
    return batch?.timestampField || 'event_timestamp';
  }

  async push(
    project: string,
    source: registryV1.DataSource,
    input: InputRows,
    destination: PushDestination,
    timeRemainingMs: number | undefined,
  ): Promise<WriteOutcome> {
    const targets = this.compile(() => targetsOf(this.options.registry, project, source, this.options.basePath));
    if (targets.length === 0)
      throw new RpcError(Code.FAILED_PRECONDITION, `no feature view in project '${project}' has push source '${source.name}' as its stream_source`);
    const toOnline = destination !== 'offline';
    const toOffline = destination !== 'online';
    const online = toOnline ? targets.filter((t) => t.online) : [];
    if (toOnline && online.length === 0)
      throw new RpcError(Code.FAILED_PRECONDITION, `the feature views of push source '${source.name}' are not online (online: false)`);
    const offline = toOffline ? targets.filter((t) => t.offline !== undefined) : [];
    if (toOffline) {
      const problem = targets.find((t) => t.offline === undefined && t.offlineProblem !== undefined && !t.offlineProblem.includes('offline: false'));
      if (problem !== undefined || offline.length === 0) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `cannot push offline through '${source.name}': ${problem?.offlineProblem ?? 'none of its feature views is offline'}`,
        );
      }
      if (this.options.offline === undefined) throw new RpcError(Code.FAILED_PRECONDITION, 'this ingestion service has no offline store configured');
    }
    const used = [...new Set([...online, ...offline])];
    return this.write(new FieldMap(source.fieldMapping), input, used, online, offline, timeRemainingMs);
  }

  async writeToOnlineStore(project: string, viewName: string, input: InputRows, timeRemainingMs: number | undefined): Promise<WriteOutcome> {
    if (viewName === '') throw new RpcError(Code.INVALID_ARGUMENT, 'feature_view: required');
    const view = this.options.registry.featureView(project, viewName);
    if (view === undefined) throw new RpcError(Code.NOT_FOUND, `feature view '${viewName}' is not in project '${project}'`);
    if (view.online === false) throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${viewName}' is not online (online: false)`);
    const stream =
      (view.streamSource === '' ? undefined : this.options.registry.dataSource(project, view.streamSource)) ??
      ({ name: '', kind: { case: undefined }, fieldMapping: {} } as unknown as registryV1.DataSource);
    const target = this.compile(() => compileTarget(this.options.registry, project, view, stream, this.options.basePath));
    return this.write(new FieldMap({}), input, [target], [target], [], timeRemainingMs);
  }

  private compile<T>(build: () => T): T {
    try {
      return build();
    } catch (error) {
      if (error instanceof UnwritableViewError) throw new RpcError(Code.FAILED_PRECONDITION, error.message);
      throw error;
    }
  }

  private async write(
    fields: FieldMap,
    input: InputRows,
    used: readonly ViewTarget[],
    online: readonly ViewTarget[],
    offline: readonly ViewTarget[],
    timeRemainingMs: number | undefined,
  ): Promise<WriteOutcome> {
    // A column named like the view's column wins over the source's field mapping.
    const plans = used.map((target) => recordPlan(target, (column) => (input.has(column) ? column : fields.fieldOf(column))));
    for (const plan of plans) {
      for (const key of plan.keys) {
        if (input.rowCount > 0 && !input.has(key.field))
          throw new RpcError(Code.INVALID_ARGUMENT, `rows: no '${key.name}' column; it is a join key of feature view '${plan.target.name}'`);
      }
    }
    const readInput: ColumnReader<number> = (column, row) => input.read(row, column.field, column.type);
    const now = Date.now();
    const failures: ingestionV1.RowFailure[] = [];
    const onlineRows = new Map<ViewTarget, ShapedRow[]>(online.map((t) => [t, []]));
    const offlineRows = new OfflineBatches();
    const offlineSet = new Set(offline);
    let valid = 0;
    for (let i = 0; i < input.rowCount; i++) {
      try {
        let eventTs: number;
        try {
          eventTs = input.eventTs(i);
          if (eventTs < 0) throw new ValueError('event time before 1970 cannot be stored');
          const ahead = futureTimeProblem('event time', eventTs, now, this.options.maxFutureSkewMs);
          if (ahead !== undefined) throw new ValueError(ahead);
        } catch (error) {
          throw new RowProblem(input.timestampColumn, `event timestamp: ${(error as Error).message}`);
        }
        let createdTs: number;
        try {
          createdTs = input.createdTs(i) ?? now;
        } catch (error) {
          if (!(error instanceof ValueError)) throw error;
          throw new RowProblem('', `created timestamp: ${error.message}`);
        }
        const shaped = plans.map((plan) => [plan.target, shapeRow(plan, readInput, i, eventTs, createdTs)] as const);
        // A row breaking one view's schema is refused as a whole (push has no dead-letter
        // topic: the caller gets it back as a row failure), unless that view counts instead.
        for (const [target, row] of shaped) {
          const violation = target.validation?.check(row.values);
          if (violation === undefined) continue;
          const dead = target.validation?.policy !== 'count';
          this.options.onSchemaViolation?.(target, violation, dead ? 'dead_letter' : 'counted');
          if (dead) throw new RowProblem(violation.feature, violationReason(target.name, violation));
        }
        for (const [target, row] of shaped) {
          onlineRows.get(target)?.push(row);
          if (offlineSet.has(target)) offlineRows.add(i, target, row);
        }
        valid++;
      } catch (error) {
        if (!(error instanceof RowProblem || error instanceof ValueError)) throw error;
        failures.push(
          create(ingestionV1.RowFailureSchema, { rowIndex: BigInt(i), column: error instanceof RowProblem ? error.column : '', reason: error.message }),
        );
      }
    }
    const timeoutMs = Math.max(1, Math.min(this.options.storeTimeoutMs, timeRemainingMs ?? Infinity));
    const [skipped] = await Promise.all([
      Promise.all([...onlineRows].map(([target, rows]) => writeOnline(this.options.online, target, rows, timeoutMs))).then(
        (results) => Math.max(0, ...results.map((r) => r.skipped)),
        storeFailure('online'),
      ),
      Promise.all(offlineRows.all().map((batch) => (this.options.offline as OfflineStore).append(batch.source, batch.toAppendRows()))).catch(
        storeFailure('offline'),
      ),
    ]);
    return { rowsWritten: BigInt(valid - skipped), rowsSkippedStale: BigInt(skipped), failures };
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** Store errors as statuses: unreachable -> UNAVAILABLE, a definition that does not fit the data -> FAILED_PRECONDITION. */
export function storeFailure(which: 'online' | 'offline'): (error: unknown) => never {
  return (error) => {
    if (error instanceof RpcError) throw error;
    if (error instanceof StoreUnavailableError || UNREACHABLE.has((error as { code?: string }).code ?? '')) {
      throw new RpcError(
        Code.UNAVAILABLE,
        `the ${which} store is unavailable: ${(error as Error).message}; nothing was lost, retry the call (writes are idempotent)`,
        { cause: error },
      );
    }
    // A source path outside the service's roots: the registry definition names a place this service may not write.
    if (error instanceof PathDeniedError) throw new RpcError(Code.PERMISSION_DENIED, `offline write: ${error.message}`, { cause: error });
    if (error instanceof OfflineStoreError) throw new RpcError(Code.FAILED_PRECONDITION, `offline write: ${error.message}`, { cause: error });
    throw error;
  };
}
