// larder.statistics.v1.StatisticsService: statistics computed by the offline engine
// (it holds the engine and follows the registry already), kept with their scope.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { FeatureSpec, JoinKeySpec, OfflineStore, SourceLocation, StatisticsInput } from '@larder/offline-store';
import { registryV1, statisticsV1, tfmdV0 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RegistrySource } from './plan';
import { projectOf } from './plan';
import { locationFor, viewSourceOf } from './sources';
import { scopeKey } from './statistics-records';
import type { StatisticsRecords } from './statistics-records';
import { requireSchemas, validateCovered } from './statistics-validation';
import type { CoveredView } from './statistics-validation';

/** Timestamps outside years 1..9999 are not times any engine stores. */
const MIN_SECONDS = -62135596800n;
const MAX_SECONDS = 253402300799n;
const MAX_FEATURES = 10_000;
const MAX_PAGE = 1000;

export interface StatisticsRegistry extends RegistrySource {
  readonly version: bigint;
}

function range(field: string, r: statisticsV1.TimeRange | undefined): { start: Date; end: Date } {
  if (r === undefined) throw new RpcError(Code.INVALID_ARGUMENT, `${field}: required`);
  for (const [name, t] of [
    ['start', r.start],
    ['end', r.end],
  ] as const) {
    if (t === undefined) throw new RpcError(Code.INVALID_ARGUMENT, `${field}.${name}: required`);
    if (t.seconds < MIN_SECONDS || t.seconds > MAX_SECONDS || t.nanos < 0 || t.nanos > 999_999_999) {
      throw new RpcError(Code.INVALID_ARGUMENT, `${field}.${name}: must be a time in years 1 to 9999 with nanos in [0, 999999999]`);
    }
  }
  const start = timestampMs(r.start!);
  const end = timestampMs(r.end!);
  if (end <= start)
    throw new RpcError(Code.INVALID_ARGUMENT, `${field}: end (${new Date(end).toISOString()}) must be after start (${new Date(start).toISOString()})`);
  return { start: new Date(start), end: new Date(end) };
}

function viewOf(views: readonly registryV1.FeatureView[], name: string, field: string): registryV1.FeatureView {
  if (name === '') throw new RpcError(Code.INVALID_ARGUMENT, `${field}: required`);
  const view = views.find((v) => v.name === name);
  if (view === undefined) throw new RpcError(Code.NOT_FOUND, `${field}: feature view '${name}' is not in the registry`);
  return view;
}

function featuresOf(view: registryV1.FeatureView, names: readonly string[], field: string, joinKeys: ReadonlySet<string>): FeatureSpec[] {
  if (names.length > MAX_FEATURES) throw new RpcError(Code.INVALID_ARGUMENT, `${field}: at most ${MAX_FEATURES} features, got ${names.length}`);
  const schema = view.schema.filter((f) => !joinKeys.has(f.name));
  if (names.length === 0) return schema.map((f) => ({ name: f.name, type: f.valueType }));
  return names.map((name, i) => {
    const found = schema.find((f) => f.name === name);
    if (found === undefined) throw new RpcError(Code.INVALID_ARGUMENT, `${field}[${i}]: feature view '${view.name}' has no feature '${name}'`);
    return { name, type: found.valueType };
  });
}

export class StatisticsRpc {
  constructor(
    private readonly registry: StatisticsRegistry,
    private readonly store: OfflineStore,
    private readonly records: StatisticsRecords,
    private readonly defaultProject: string,
  ) {}

  async compute(request: statisticsV1.ComputeStatisticsRequest, signal: AbortSignal): Promise<statisticsV1.ComputeStatisticsResponse> {
    const scope = request.scope;
    if (scope === undefined || scope.kind.case === undefined)
      throw new RpcError(Code.INVALID_ARGUMENT, 'scope: set one of feature_view, feature_service, saved_dataset, ingested, materialized');
    const project = projectOf(this.registry, scope.project, this.defaultProject);
    const version = this.registry.version;
    const set = this.registry.registrySet(project);
    if (set === undefined) throw new RpcError(Code.NOT_FOUND, `scope.project: project '${project}' is not in the registry`);
    const engine = this.store.engine;
    const sources = new Map(set.dataSources.map((s) => [s.name, s]));
    const joinKeysOf = (view: registryV1.FeatureView): JoinKeySpec[] =>
      view.entities.flatMap((name) => {
        const entity = set.entities.find((e) => e.name === name);
        return entity === undefined ? [] : [{ name: entity.joinKey, type: entity.valueType }];
      });
    const keyNames = (view: registryV1.FeatureView) => new Set(joinKeysOf(view).map((k) => k.name));
    const o = request.options;
    const options = {
      histogramBuckets: o?.histogramBuckets ?? 0,
      quantileBuckets: o?.quantileBuckets ?? 0,
      topValues: o?.topValues ?? 0,
      rankHistogramBuckets: o?.rankHistogramBuckets ?? 0,
    };
    const validation = request.validation;
    const validate = validation?.enabled === true;
    if (validation?.drift === true && !validate) throw new RpcError(Code.INVALID_ARGUMENT, 'validation.drift: needs validation.enabled');
    if (validate && scope.kind.case === 'savedDataset') {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        'validation: unsupported for a saved dataset (its columns carry no view schema); validate a training set when it is written (HistoricalQuery.validation)',
      );
    }
    // What each scanned view contributes; checked for schemas before the first scan.
    const covered: CoveredView[] = [];
    const cover = (part: CoveredView) => {
      covered.push(part);
      if (validate) requireSchemas([part]);
    };
    const run = (input: StatisticsInput, datasetName: string) => this.store.computeStatistics({ input, datasetName, options, signal });

    let statistics;
    const kind = scope.kind;
    switch (kind.case) {
      case 'featureView': {
        const view = viewOf(set.featureViews, kind.value.featureView, 'scope.feature_view.feature_view');
        const window = range('scope.feature_view.event_time', kind.value.eventTime);
        const features = featuresOf(view, kind.value.features, 'scope.feature_view.features', keyNames(view));
        cover({ view, dataset: view.name, features });
        statistics = await run({ kind: 'source', source: viewSourceOf(engine, sources, view), features, window: { column: 'event', ...window } }, view.name);
        break;
      }
      case 'ingested': {
        const view = viewOf(set.featureViews, kind.value.featureView, 'scope.ingested.feature_view');
        const window = range('scope.ingested.created_time', kind.value.createdTime);
        const features = featuresOf(view, [], 'scope.ingested', keyNames(view));
        cover({ view, dataset: view.name, features });
        statistics = await run({ kind: 'source', source: viewSourceOf(engine, sources, view), features, window: { column: 'created', ...window } }, view.name);
        break;
      }
      case 'materialized': {
        const view = viewOf(set.featureViews, kind.value.featureView, 'scope.materialized.feature_view');
        const window = range('scope.materialized.event_time', kind.value.eventTime);
        const features = featuresOf(view, [], 'scope.materialized', keyNames(view));
        cover({ view, dataset: view.name, features });
        statistics = await run(
          { kind: 'source', source: viewSourceOf(engine, sources, view), features, window: { column: 'event', ...window }, latestPerKey: joinKeysOf(view) },
          view.name,
        );
        break;
      }
      case 'featureService': {
        const name = kind.value.featureService;
        if (name === '') throw new RpcError(Code.INVALID_ARGUMENT, 'scope.feature_service.feature_service: required');
        const service = set.featureServices.find((s) => s.name === name);
        if (service === undefined)
          throw new RpcError(Code.NOT_FOUND, `scope.feature_service.feature_service: feature service '${name}' is not in the registry`);
        const window = range('scope.feature_service.event_time', kind.value.eventTime);
        const parts = [];
        const scans = [];
        for (const projection of service.projections) {
          // On-demand features are computed per request, never stored: nothing to scan.
          if (set.onDemandFeatureViews.some((v) => v.name === projection.featureView)) continue;
          const view = viewOf(set.featureViews, projection.featureView, `feature service '${name}' projection`);
          const prefix = projection.alias !== '' ? projection.alias : view.name;
          const features = featuresOf(view, projection.features, `feature service '${name}' projection '${prefix}'`, keyNames(view)).map((f) => ({
            ...f,
            outputName: `${prefix}__${f.name}`,
          }));
          cover({ view, dataset: prefix, features });
          scans.push({
            input: { kind: 'source' as const, source: viewSourceOf(engine, sources, view), features, window: { column: 'event' as const, ...window } },
            prefix,
          });
        }
        // Every view resolved (and, when validating, known to have a schema) before the first scan.
        for (const scan of scans) parts.push(await run(scan.input, scan.prefix));
        // One dataset per view: their rows (and so num_examples) differ.
        statistics = create(tfmdV0.DatasetFeatureStatisticsListSchema, { datasets: parts.flatMap((p) => p.datasets) });
        break;
      }
      case 'savedDataset': {
        const name = kind.value.savedDataset;
        if (name === '') throw new RpcError(Code.INVALID_ARGUMENT, 'scope.saved_dataset.saved_dataset: required');
        const dataset = set.savedDatasets.find((d) => d.name === name);
        if (dataset === undefined) throw new RpcError(Code.NOT_FOUND, `scope.saved_dataset.saved_dataset: saved dataset '${name}' is not in the registry`);
        const storage = dataset.storage?.kind;
        if (storage === undefined || storage.case === undefined) throw new RpcError(Code.FAILED_PRECONDITION, `saved dataset '${name}' has no storage to read`);
        const what = `saved dataset '${name}'`;
        const table = { location: { case: 'table' as const, value: storage.case === 'file' ? '' : storage.value } };
        const location: SourceLocation =
          storage.case === 'file'
            ? locationFor(engine, { case: 'file', value: storage.value }, what)
            : storage.case === 'bigqueryTable'
              ? locationFor(engine, { case: 'bigquery', value: create(registryV1.BigQuerySourceSchema, table) }, what)
              : locationFor(engine, { case: 'postgres', value: create(registryV1.PostgresSourceSchema, table) }, what);
        statistics = await run({ kind: 'location', location, label: `saved dataset '${name}'` }, name);
        break;
      }
    }
    let anomalies: tfmdV0.Anomalies | undefined;
    let baseline: statisticsV1.StatisticsRecord | undefined;
    if (validate) {
      if (validation?.drift === true) baseline = await this.previousOf(project, scope);
      anomalies = validateCovered(covered, statistics, baseline?.statistics);
    }
    const rowCount = statistics.datasets.reduce((n, d) => Math.max(n, Number(d.numExamples)), 0);
    const record = create(statisticsV1.StatisticsRecordSchema, {
      scope: { ...scope, project },
      computedAt: timestampFromMs(Date.now()),
      engine,
      rowCount: BigInt(rowCount),
      statistics,
      registryVersion: version,
    });
    return create(statisticsV1.ComputeStatisticsResponseSchema, {
      record: request.dryRun ? record : await this.records.save(record),
      ...(anomalies !== undefined && { anomalies }),
      driftBaselineId: baseline?.id ?? '',
    });
  }

  /**
   * The previous span of a scope: among stored records of the same kind and object whose
   * range ends at or before this one's start, the newest computed (a re-computation of a
   * span replaces the older one). Records are the caller's to read: the same read_offline
   * on the same views that computing needed.
   */
  private async previousOf(project: string, scope: statisticsV1.StatisticsScope): Promise<statisticsV1.StatisticsRecord | undefined> {
    const current = scopeKey(scope);
    if (current.range === undefined) return undefined;
    const headers = this.records.list({ project, objectName: current.objectName, overlaps: undefined }, 0, Number.MAX_SAFE_INTEGER).records;
    const header = headers.find((h) => {
      if (h.scope === undefined || h.scope.kind.case !== scope.kind.case) return false;
      const range = scopeKey(h.scope).range;
      return range !== undefined && range.end <= current.range!.start;
    });
    return header === undefined ? undefined : this.records.get(project, header.id);
  }

  list(request: statisticsV1.ListStatisticsRequest): statisticsV1.ListStatisticsResponse {
    const project = projectOf(this.registry, request.project, this.defaultProject);
    if (request.pageSize < 0 || request.pageSize > MAX_PAGE)
      throw new RpcError(Code.INVALID_ARGUMENT, `page_size: must be in [0, ${MAX_PAGE}] (0: 100), got ${request.pageSize}`);
    let offset = 0;
    if (request.pageToken !== '') {
      if (!/^\d{1,9}$/.test(request.pageToken)) throw new RpcError(Code.INVALID_ARGUMENT, 'page_token: not a token this service gave');
      offset = Number(request.pageToken);
    }
    const overlaps = request.overlaps === undefined ? undefined : range('overlaps', request.overlaps);
    const limit = request.pageSize === 0 ? 100 : request.pageSize;
    const page = this.records.list(
      { project, objectName: request.objectName, overlaps: overlaps && { start: overlaps.start.getTime(), end: overlaps.end.getTime() } },
      offset,
      limit,
    );
    return create(statisticsV1.ListStatisticsResponseSchema, { records: page.records, nextPageToken: page.more ? String(offset + limit) : '' });
  }

  async get(request: statisticsV1.GetStatisticsRequest): Promise<statisticsV1.GetStatisticsResponse> {
    const project = projectOf(this.registry, request.project, this.defaultProject);
    if (request.id === '') throw new RpcError(Code.INVALID_ARGUMENT, 'id: required');
    const record = await this.records.get(project, request.id);
    if (record === undefined) throw new RpcError(Code.NOT_FOUND, `id: no statistics '${request.id.slice(0, 100)}' in project '${project}'`);
    return create(statisticsV1.GetStatisticsResponseSchema, { record });
  }
}
