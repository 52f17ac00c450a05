import { create } from '@bufbuild/protobuf';
import { durationFromMs, TimestampSchema, timestampNow } from '@bufbuild/protobuf/wkt';
import { DEFAULT_ROW_COST_LIMIT } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { timestampParts } from '@larder/offline-store';
import type {
  Destination,
  EntityInput,
  HistoricalParquet,
  HistoricalRequest,
  OfflineStore,
  ResultChunk as StoreChunk,
  ResultSchema as StoreSchema,
} from '@larder/offline-store';
import { offlineV1, registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { hasAnomalies } from '@larder/validation';
import type { EntityStats } from './entities';
import { DEFAULT_ON_DEMAND_REQUEST_COST } from './config';
import { computeOnDemand, OnDemandRun } from './on-demand';
import { checkFileFormat } from './request-checks';
import { encodeChunk, outputLayout, parquetColumns } from './output';
import type { OutputLayout } from './output';
import { planRetrieval, projectOf } from './plan';
import { checkTableName } from './sources';
import type { RegistrySource, RetrievalPlan } from './plan';
import { anomalySummary, validateTrainingSet, writtenLocation } from './training-validation';

/** One message of either result stream; both rpcs answer with the same oneof. */
export type ResultPart = offlineV1.GetHistoricalFeaturesResponse['part'];

/** The registry as the service uses it; RegistryClient satisfies it. */
export interface RetrievalRegistry extends RegistrySource {
  readonly version: bigint;
  /** The registry's current version (an rpc), for read-your-writes after an apply. */
  latestVersion(): Promise<bigint>;
  waitForVersion(version: bigint, timeoutMs: number): Promise<void>;
  saveDataset(project: string, dataset: registryV1.SavedDataset): Promise<registryV1.SavedDataset>;
}

export interface OfflineRetrievalOptions {
  /** Project of queries that name none; '' = the registry's only project. */
  defaultProject: string;
  maxRowsPerChunk: number;
  maxChunkBytes: number;
  registryReady: () => boolean;
  /** Cost units on-demand features may take per row and per request (see @larder/core's EvaluationBudget). */
  onDemandRowCost?: number;
  onDemandRequestCost?: number;
}

/** The call a retrieval serves: its deadline and abort signal, for work done in this process. */
export interface RetrievalCall {
  readonly deadline: Date | undefined;
  readonly signal: AbortSignal;
}

/** Builds the entity input once the plan says which columns are declared (inline) or where they live (source). */
export type EntitiesFor = (plan: RetrievalPlan) => Promise<EntityInput>;

/** Historical retrieval over a registry copy and an offline store: plan, join in the engine, stream or write. */
export class OfflineRetrieval {
  constructor(
    private readonly registry: RetrievalRegistry,
    private readonly store: OfflineStore,
    private readonly options: OfflineRetrievalOptions,
  ) {}

  async *retrieve(query: offlineV1.HistoricalQuery, entitiesFor: EntitiesFor, stats: EntityStats, call?: RetrievalCall): AsyncGenerator<ResultPart> {
    const started = Date.now();
    const { project, plan } = await this.plan(query);
    const run = new OnDemandRun(
      {
        rowCost: this.options.onDemandRowCost ?? DEFAULT_ROW_COST_LIMIT,
        requestCost: this.options.onDemandRequestCost ?? DEFAULT_ON_DEMAND_REQUEST_COST,
        deadlineMs: call?.deadline?.getTime(),
      },
      call?.signal,
    );
    if (query.maxRowsPerChunk < 0)
      throw new RpcError(Code.INVALID_ARGUMENT, `query.max_rows_per_chunk: must be 0 (server default) or positive, got ${query.maxRowsPerChunk}`);
    const maxRows = query.maxRowsPerChunk > 0 ? Math.min(query.maxRowsPerChunk, this.options.maxRowsPerChunk) : this.options.maxRowsPerChunk;
    const parquet = this.parquetFor(query, plan);
    const destination = query.destination;
    const validating = query.validation?.enabled === true;
    if (destination === undefined || destination.storage === undefined) {
      if (destination !== undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'query.destination.storage: required when a destination is given');
      if (validating)
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          'query.validation: needs a destination (statistics are computed by the engine where the training set was written)',
        );
      const entities = await entitiesFor(plan);
      const request: HistoricalRequest = { entities, views: plan.views, chunkRows: maxRows, ...signalOf(call) };
      let rowCount: number;
      if (parquet !== undefined) {
        rowCount = yield* this.streamParquet(plan, await parquet(request));
      } else {
        const result = await this.store.getHistoricalFeatures(request);
        rowCount = yield* this.stream(plan, result.schema, result, maxRows, run);
      }
      yield { case: 'summary', value: create(offlineV1.ResultSummarySchema, { rowCount: BigInt(rowCount), elapsed: durationFromMs(Date.now() - started) }) };
      return;
    }

    if (plan.hasOnDemand) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        'query.destination: on-demand features are computed in the service and cannot be written by the engine yet; stream the result instead (no destination), or drop the on-demand refs',
      );
    }
    const target = destinationOf(destination, this.store.engine);
    const entities = await entitiesFor(plan);
    if (!destination.omitRows && entities.kind === 'rows') {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        'query.destination.omit_rows: must be true when inline entity rows are written to a destination (the rows are sent once and cannot be joined again); read the destination afterwards, or use GetHistoricalFeaturesFromSource',
      );
    }
    const exported = await this.store.exportHistoricalFeatures({ entities, views: plan.views, ...signalOf(call) }, target);
    const layout = outputLayout(plan, exported.schema);
    yield { case: 'schema', value: layout.schema };
    if (!destination.omitRows) {
      // The entity rows live in the engine, so the join runs again for the rows to stream back.
      const request: HistoricalRequest = { entities: await entitiesFor(plan), views: plan.views, chunkRows: maxRows, ...signalOf(call) };
      if (parquet !== undefined) {
        yield* this.streamParquet(plan, await parquet(request), layout);
      } else {
        const again = await this.store.getHistoricalFeatures(request);
        yield* this.stream(plan, again.schema, again, maxRows, run, layout);
      }
    }
    // The written training set's statistics against its views' schemas, before it is registered.
    const check = validating ? await validateTrainingSet(this.store, plan, writtenLocation(target), call?.signal) : undefined;
    if (check !== undefined && query.validation?.failOnAnomalies === true && hasAnomalies(check.anomalies)) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `query.validation: the training set breaks its views' schemas (it was written to the destination; no saved dataset was registered): ${anomalySummary(check.anomalies)}`,
      );
    }
    let saved: registryV1.SavedDataset | undefined;
    if (destination.savedDatasetName !== '') {
      saved = await this.registry.saveDataset(project, savedDataset(plan, query, destination, exported.rowCount, stats));
    }
    yield {
      case: 'summary',
      value: create(offlineV1.ResultSummarySchema, {
        rowCount: BigInt(exported.rowCount),
        storage: destination.storage,
        ...(exported.rowIndexColumn !== undefined && { rowIndexColumn: exported.rowIndexColumn }),
        ...(saved !== undefined && { savedDataset: saved }),
        ...(check !== undefined && { anomalies: check.anomalies, statistics: check.statistics }),
        elapsed: durationFromMs(Date.now() - started),
      }),
    };
  }

  private async *stream(
    plan: RetrievalPlan,
    schema: StoreSchema,
    result: AsyncIterable<StoreChunk> & { readonly schema: StoreSchema },
    maxRows: number,
    run: OnDemandRun,
    fixed?: OutputLayout,
  ): AsyncGenerator<ResultPart, number> {
    const layout = fixed ?? outputLayout(plan, schema);
    if (fixed === undefined) yield { case: 'schema', value: layout.schema };
    let rows = 0;
    for await (const chunk of result) {
      const computed = plan.hasOnDemand ? await computeOnDemand(plan, schema, chunk, chunk.firstRow, run) : [];
      for (const out of encodeChunk(plan, layout, schema, chunk, maxRows, this.options.maxChunkBytes, computed)) yield { case: 'chunk', value: out };
      rows += chunk.rowCount;
    }
    return rows;
  }

  /**
   * The engine's Parquet writer for a query that asks for Parquet, or undefined for value
   * chunks: asked for, or the engine writes no Parquet, or on-demand features (computed
   * here) are in the result. The contract lets the server answer Parquet with values.
   */
  private parquetFor(query: offlineV1.HistoricalQuery, plan: RetrievalPlan): ((request: HistoricalRequest) => Promise<HistoricalParquet>) | undefined {
    const format = query.resultFormat;
    if (!RESULT_FORMATS.has(format)) {
      throw new RpcError(Code.INVALID_ARGUMENT, `query.result_format: unknown value ${format}; use RESULT_FORMAT_VALUES or RESULT_FORMAT_PARQUET`);
    }
    const store = this.store;
    if (format !== offlineV1.ResultFormat.PARQUET || store.getHistoricalParquet === undefined || plan.hasOnDemand) return undefined;
    // A client's row count is honoured up to PARQUET_MAX_ROWS; the byte limit is the server's alone.
    const maxRows = query.maxRowsPerChunk > 0 ? Math.min(query.maxRowsPerChunk, PARQUET_MAX_ROWS) : PARQUET_MAX_ROWS;
    const maxBytes = this.options.maxChunkBytes;
    return (request) => store.getHistoricalParquet!(request, { columns: (schema) => parquetColumns(plan, schema), maxRows, maxBytes });
  }

  private async *streamParquet(plan: RetrievalPlan, result: HistoricalParquet, fixed?: OutputLayout): AsyncGenerator<ResultPart, number> {
    try {
      if (fixed === undefined) yield { case: 'schema', value: outputLayout(plan, result.schema).schema };
      let rows = 0;
      for await (const part of result) {
        yield {
          case: 'parquetChunk',
          value: create(offlineV1.ParquetChunkSchema, { firstRow: BigInt(part.firstRow), rowCount: BigInt(part.rowCount), parquet: part.bytes }),
        };
        rows += part.rowCount;
      }
      return rows;
    } finally {
      // A call cancelled between chunks ends here too: the engine's table and files go.
      await result.close();
    }
  }

  private async plan(query: offlineV1.HistoricalQuery): Promise<{ project: string; plan: RetrievalPlan }> {
    if (!this.options.registryReady()) throw new RpcError(Code.UNAVAILABLE, 'the registry copy is not loaded yet; retry shortly');
    const attempt = (): { project: string; plan: RetrievalPlan } => {
      const project = projectOf(this.registry, query.project, this.options.defaultProject);
      const set: RegistrySet | undefined = this.registry.registrySet(project);
      if (set === undefined) {
        const known = this.registry.projectNames();
        throw new RpcError(
          Code.NOT_FOUND,
          `query.project: project '${project}' is not in the registry${known.length > 0 ? `; projects: ${known.join(', ')}` : ''}`,
        );
      }
      return { project, plan: planRetrieval(set, query, this.store.engine) };
    };
    try {
      return attempt();
    } catch (error) {
      // A definition applied a moment ago may not have reached the copy yet: catch up once.
      if (!(error instanceof RpcError) || (error.code !== Code.NOT_FOUND && error.code !== Code.INVALID_ARGUMENT)) throw error;
      const latest = await this.registry.latestVersion().catch(() => this.registry.version);
      if (latest <= this.registry.version) throw error;
      await this.registry.waitForVersion(latest, 2_000).catch(() => undefined);
      return attempt();
    }
  }
}

const RESULT_FORMATS: ReadonlySet<number> = new Set([offlineV1.ResultFormat.UNSPECIFIED, offlineV1.ResultFormat.VALUES, offlineV1.ResultFormat.PARQUET]);

/**
 * Rows per Parquet chunk at most. Files are cut by size first (retrieval.maxChunkBytes);
 * this only bounds the engine's work per file for very narrow rows.
 */
const PARQUET_MAX_ROWS = 1_048_576;

/** The call's abort signal for the engine: a cancel or a passed deadline stops the query there too. */
function signalOf(call: RetrievalCall | undefined): { signal?: AbortSignal } {
  return call === undefined ? {} : { signal: call.signal };
}

/** What each engine writes, in the contract's terms: the storage field to set and its forms. */
const WRITES: Readonly<Record<OfflineStore['engine'], string>> = {
  duckdb: 'a file: set file.path to a .parquet or .csv path',
  postgres: "a table: set postgres_table to 'table' or 'schema.table'",
  bigquery: "a table: set bigquery_table to 'dataset.table' or 'project.dataset.table'",
};

function destinationOf(destination: offlineV1.OutputDestination, engine: OfflineStore['engine']): Destination {
  const kind = destination.storage?.kind;
  const overwrite = destination.overwrite;
  const wrong = (what: string): RpcError =>
    new RpcError(Code.INVALID_ARGUMENT, `query.destination.storage: ${what}, but this service runs on ${engine}, which writes ${WRITES[engine]}`);
  const rowIndex = destination.rowIndexColumn !== '' ? { rowIndexColumn: destination.rowIndexColumn } : {};
  switch (kind?.case) {
    case 'file': {
      if (engine !== 'duckdb') throw wrong('a file');
      if (kind.value.path === '') throw new RpcError(Code.INVALID_ARGUMENT, 'query.destination.storage.file.path: required');
      checkFileFormat(kind.value.format, 'query.destination.storage.file.format');
      const format = kind.value.format === registryV1.FileFormat.CSV || /\.csv$/i.test(kind.value.path) ? 'csv' : 'parquet';
      return { kind: 'file', path: kind.value.path, format, overwrite };
    }
    case 'bigqueryTable':
      if (engine !== 'bigquery') throw wrong('a bigquery_table');
      checkTableName('query.destination.storage.bigquery_table', kind.value, 'bigquery');
      return { kind: 'table', table: kind.value, overwrite, ...rowIndex };
    case 'postgresTable':
      if (engine !== 'postgres') throw wrong('a postgres_table');
      checkTableName('query.destination.storage.postgres_table', kind.value, 'postgres');
      return { kind: 'table', table: kind.value, overwrite, ...rowIndex };
    default:
      throw new RpcError(Code.INVALID_ARGUMENT, 'query.destination.storage: set file, bigquery_table or postgres_table');
  }
}

function savedDataset(
  plan: RetrievalPlan,
  query: offlineV1.HistoricalQuery,
  destination: offlineV1.OutputDestination,
  rowCount: number,
  stats: EntityStats,
): registryV1.SavedDataset {
  return create(registryV1.SavedDatasetSchema, {
    name: destination.savedDatasetName,
    features: plan.resolved.outputs.map((o) => o.ref),
    joinKeys: plan.resolved.entityColumns.map((c) => c.name),
    ...(destination.storage !== undefined && { storage: destination.storage }),
    createdTime: timestampNow(),
    tags: destination.savedDatasetTags,
    featureService: 'featureService' in plan.features ? plan.features.featureService : '',
    fullFeatureNames: query.fullFeatureNames,
    rowCount: BigInt(rowCount),
    ...(stats.minTs !== undefined && { minEventTimestamp: create(TimestampSchema, timestampParts(stats.minTs)) }),
    ...(stats.maxTs !== undefined && { maxEventTimestamp: create(TimestampSchema, timestampParts(stats.maxTs)) }),
  });
}
