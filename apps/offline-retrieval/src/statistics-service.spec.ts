// StatisticsService over real gRPC on DuckDB, with the real registry: computed from the
// view's source, stored, listed and read back; and every bad request refused by name.
import { clone, create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryV1, statisticsV1, tfmdV0 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { schemaFromText } from '@larder/validation';
import { featureRepo, makeData, MIN, T0 } from './testing/dataset';
import type { SourceKind } from './testing/dataset';
import { duckdbTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { rpcError, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

const data = makeData();
const range = (startMs: number, endMs: number) => ({ start: timestampFromMs(startMs), end: timestampFromMs(endMs) });

describe('statistics service on duckdb', () => {
  let engine: TestEngine;
  let harness: Harness;
  let client: RpcClient<typeof statisticsV1.StatisticsService>;
  let driverKind: Awaited<ReturnType<TestEngine['load']>>;
  let kinds: Record<'driver' | 'customer' | 'pair' | 'global', SourceKind>;

  beforeAll(async () => {
    engine = await duckdbTestEngine();
    kinds = {
      driver: (driverKind = await engine.load(data.tables.driver)),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    harness = await startHarness(engine.env, (project) => featureRepo(project, kinds));
    client = createClient(statisticsV1.StatisticsService, harness.retrievalAddress);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await harness?.close();
    await engine?.cleanup();
  });

  it('computes a view over an event-time range, stores it, lists and returns it', async () => {
    const [start, end] = [T0, T0 + 6 * 60 * MIN];
    const inRange = data.tables.driver.rows.filter((r) => (r['event_ts'] as Date).getTime() >= start && (r['event_ts'] as Date).getTime() < end);
    const scope = { project: harness.project, kind: { case: 'featureView' as const, value: { featureView: 'driver_stats', eventTime: range(start, end) } } };
    const { record } = await client.computeStatistics({ scope });
    expect(record!.id).not.toBe('');
    expect(record!.engine).toBe('duckdb');
    expect(record!.rowCount).toBe(BigInt(inRange.length));
    const dataset = record!.statistics!.datasets[0]!;
    expect(dataset.features.map((f) => f.fieldId.value)).toEqual(['conv_rate', 'trips']);
    const trips = dataset.features[1]!;
    expect(trips.type).toBe(tfmdV0.FeatureNameStatistics_Type.INT);
    if (trips.stats.case !== 'numStats') throw new Error('numeric');
    expect(trips.stats.value.max).toBe(Math.max(...inRange.map((r) => Number(r['trips']))));
    const convMissing = inRange.filter((r) => r['conv_rate'] === null).length;
    const conv = dataset.features[0]!;
    if (conv.stats.case !== 'numStats') throw new Error('numeric');
    expect(conv.stats.value.commonStats!.numMissing).toBe(BigInt(convMissing));

    const listed = await client.listStatistics({ project: harness.project, objectName: 'driver_stats', overlaps: range(start + MIN, start + 2 * MIN) });
    expect(listed.records.map((r) => r.id)).toEqual([record!.id]);
    expect(listed.records[0]!.statistics).toBeUndefined();
    expect((await client.listStatistics({ project: harness.project, objectName: 'driver_stats', overlaps: range(end, end + MIN) })).records).toEqual([]);
    const got = await client.getStatistics({ project: harness.project, id: record!.id });
    expect(got.record!.statistics).toEqual(record!.statistics);

    const dry = await client.computeStatistics({ scope, dryRun: true });
    expect(dry.record!.id).toBe('');
    expect((await client.listStatistics({ project: harness.project })).records.length).toBe(1);
  });

  it('computes what a materialization window writes: the latest row per entity key', async () => {
    const materialized = await client.computeStatistics({
      scope: { project: harness.project, kind: { case: 'materialized', value: { featureView: 'driver_stats', eventTime: range(T0, T0 + 24 * 60 * MIN) } } },
      dryRun: true,
    });
    // The latest row per driver: 11 drivers have rows.
    expect(materialized.record!.rowCount).toBe(11n);
  });

  it('computes a feature service (one dataset per stored view) and a saved dataset', async () => {
    const service = await client.computeStatistics({
      scope: { project: harness.project, kind: { case: 'featureService', value: { featureService: 'model_v1', eventTime: range(T0, T0 + 24 * 60 * MIN) } } },
      dryRun: true,
    });
    const datasets = service.record!.statistics!.datasets;
    // model_v1 reads driver_stats (alias d), customer_profile and an on-demand view (not stored, so not described).
    expect(datasets.map((d) => [d.name, d.features.map((f) => f.fieldId.value)])).toEqual([
      ['d', ['d__conv_rate']],
      ['customer_profile', ['customer_profile__segment']],
    ]);
    expect(datasets[0]!.numExamples).toBe(BigInt(data.tables.driver.rows.length));

    if (driverKind.case !== 'file') throw new Error('duckdb sources are files');
    await harness.registry.applyRegistry({
      project: harness.project,
      savedDatasets: [
        {
          name: 'train_v1',
          features: ['driver_stats:conv_rate', 'driver_stats:trips'],
          joinKeys: ['driver_id'],
          storage: { kind: { case: 'file', value: driverKind.value } },
        },
      ],
    });
    const deadline = Date.now() + 10_000;
    let saved: statisticsV1.ComputeStatisticsResponse | undefined;
    while (saved === undefined) {
      try {
        saved = await client.computeStatistics({ scope: { project: harness.project, kind: { case: 'savedDataset', value: { savedDataset: 'train_v1' } } } });
      } catch (error) {
        // The service follows the registry's change stream; wait for the dataset to arrive.
        if (Date.now() > deadline || !String(error).includes('is not in the registry')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(saved.record!.rowCount).toBe(BigInt(data.tables.driver.rows.length));
    // Every column of a known type, the key and timestamps too.
    expect(saved.record!.statistics!.datasets[0]!.features.map((f) => f.fieldId.value)).toEqual(data.tables.driver.columns.map((c) => c.name));
    const listed = await client.listStatistics({ project: harness.project, objectName: 'train_v1' });
    expect(listed.records.map((r) => r.id)).toEqual([saved.record!.id]);
  });

  it('refuses bad requests, naming the field', async () => {
    const project = harness.project;
    const view = (init: { featureView?: string; eventTime?: MessageInitShape<typeof statisticsV1.TimeRangeSchema>; features?: string[] }) => ({
      scope: { project, kind: { case: 'featureView' as const, value: { featureView: 'driver_stats', eventTime: range(T0, T0 + MIN), ...init } } },
    });
    const cases: [Parameters<typeof client.computeStatistics>[0], Code, RegExp][] = [
      [{}, Code.INVALID_ARGUMENT, /^scope: set one of/],
      [view({ featureView: 'nope' }), Code.NOT_FOUND, /feature view 'nope' is not in the registry/],
      [view({ eventTime: range(T0 + MIN, T0) }), Code.INVALID_ARGUMENT, /scope\.feature_view\.event_time: end .* must be after start/],
      [
        view({ eventTime: { start: { seconds: 1n << 60n }, end: timestampFromMs(T0) } }),
        Code.INVALID_ARGUMENT,
        /event_time\.start: must be a time in years 1 to 9999/,
      ],
      [view({ eventTime: { start: timestampFromMs(T0) } }), Code.INVALID_ARGUMENT, /event_time\.end: required/],
      [view({ features: ['conv_rate', 'driver_id; DROP TABLE x'] }), Code.INVALID_ARGUMENT, /features\[1\]: feature view 'driver_stats' has no feature/],
      [view({ features: Array.from({ length: 20_000 }, () => 'trips') }), Code.INVALID_ARGUMENT, /at most 10000 features/],
      [{ ...view({}), options: { topValues: 1_000_000_000 } }, Code.INVALID_ARGUMENT, /options\.topValues/],
      [{ ...view({}), options: { quantileBuckets: -5 } }, Code.INVALID_ARGUMENT, /options\.quantileBuckets/],
      [{ scope: { project: 'other', kind: { case: 'savedDataset', value: { savedDataset: 'x' } } } }, Code.NOT_FOUND, /project 'other'/],
      [
        { scope: { project, kind: { case: 'savedDataset', value: { savedDataset: '../../etc/passwd' } } } },
        Code.NOT_FOUND,
        /saved dataset '\.\.\/\.\.\/etc\/passwd' is not in the registry/,
      ],
      [
        { scope: { project, kind: { case: 'ingested', value: { featureView: 'customer_profile', createdTime: range(T0, T0 + MIN) } } } },
        Code.INVALID_ARGUMENT,
        /no created_timestamp_column/,
      ],
    ];
    for (const [request, code, message] of cases) {
      const error = await rpcError(() => client.computeStatistics(request));
      expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)]);
    }
    const get = await rpcError(() => client.getStatistics({ project, id: '../../../etc/passwd' }));
    expect(get.code).toBe(Code.NOT_FOUND);
    const token = await rpcError(() => client.listStatistics({ project, pageToken: 'x; DROP' }));
    expect([token.code, token.message]).toEqual([Code.INVALID_ARGUMENT, expect.stringMatching(/^page_token/)]);
    const size = await rpcError(() => client.listStatistics({ project, pageSize: 1_000_000 }));
    expect([size.code, size.message]).toEqual([Code.INVALID_ARGUMENT, expect.stringMatching(/^page_size/)]);
  });

  describe("validated against the views' TFDV schemas", () => {
    const HOUR = 60 * MIN;
    const viewScope = (featureView: string, start: number, end: number) => ({
      project: harness.project,
      kind: { case: 'featureView' as const, value: { featureView, eventTime: range(start, end) } },
    });
    const reasons = (anomalies: tfmdV0.Anomalies | undefined) =>
      Object.fromEntries(Object.entries(anomalies?.anomalyInfo ?? {}).map(([name, info]) => [name, info.reason.map((r) => tfmdV0.AnomalyInfo_Type[r.type])]));

    beforeAll(async () => {
      const views = featureRepo(harness.project, kinds).featureViews;
      const withSchema = (name: string, text: string) => {
        const view = clone(
          registryV1.FeatureViewSchema,
          views.find((v) => v.name === name)!,
        );
        view.validation = create(registryV1.FeatureViewValidationSchema, { schema: schemaFromText(text) });
        return view;
      };
      await harness.registry.applyRegistry({
        project: harness.project,
        featureViews: [
          // The late corrections carry conv_rate 9.x and trips 9000+: inside these domains.
          withSchema(
            'driver_stats',
            'feature { name: "conv_rate" type: FLOAT float_domain { min: 0 max: 100 } }\nfeature { name: "trips" type: INT int_domain { min: 0 max: 100000 } }',
          ),
          withSchema(
            'customer_profile',
            'feature { name: "segment" type: BYTES string_domain { value: "gold" value: "silver" } drift_comparator { infinity_norm { threshold: 0.0001 } } }\nfeature { name: "vip" }',
          ),
        ],
      });
      // The service follows the registry's change stream: wait until it has the schemas.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await client.computeStatistics({ scope: viewScope('customer_profile', T0, T0 + MIN), dryRun: true, validation: { enabled: true } });
          break;
        } catch (error) {
          if (Date.now() > deadline || !String(error).includes('has no TFDV schema')) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    });

    it('returns no anomalies when the data fits, and none at all when not asked', async () => {
      const fits = await client.computeStatistics({ scope: viewScope('driver_stats', T0, T0 + 12 * HOUR), dryRun: true, validation: { enabled: true } });
      expect(fits.anomalies).toBeDefined();
      expect(reasons(fits.anomalies)).toEqual({});
      expect(fits.anomalies!.dataMissing).toBe(false);
      // The baseline is the schema the statistics were checked against.
      if (fits.anomalies!.baselineSchema.case !== 'baseline') throw new Error('baseline schema');
      expect(fits.anomalies!.baselineSchema.value.feature.map((f) => f.name)).toEqual(['conv_rate', 'trips']);
      const plain = await client.computeStatistics({ scope: viewScope('driver_stats', T0, T0 + 12 * HOUR), dryRun: true });
      expect(plain.anomalies).toBeUndefined();
    });

    it('names a value outside the domain, and measures drift against the previous stored span', async () => {
      const first = await client.computeStatistics({ scope: viewScope('customer_profile', T0, T0 + 6 * HOUR), validation: { enabled: true, drift: true } });
      expect(first.driftBaselineId).toBe('');
      expect(reasons(first.anomalies)).toEqual({ segment: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'] });
      expect(first.anomalies!.anomalyInfo['segment']!.description).toContain(JSON.stringify('o\'brien "x"'));
      expect(first.anomalies!.driftSkewInfo).toEqual([]);

      const second = await client.computeStatistics({
        scope: viewScope('customer_profile', T0 + 6 * HOUR, T0 + 12 * HOUR),
        validation: { enabled: true, drift: true },
      });
      expect(second.driftBaselineId).toBe(first.record!.id);
      expect(second.anomalies!.driftSkewInfo.map((d) => [d.path!.step, d.driftMeasurements.length])).toEqual([[['segment'], 1]]);
    });

    it("validates a feature service with each view's schema under its view__feature names", async () => {
      const service = await client.computeStatistics({
        scope: { project: harness.project, kind: { case: 'featureService', value: { featureService: 'model_v1', eventTime: range(T0, T0 + 12 * HOUR) } } },
        dryRun: true,
        validation: { enabled: true },
      });
      if (service.anomalies?.baselineSchema.case !== 'baseline') throw new Error('baseline schema');
      // Only the projected features: customer_profile's vip is not described, so not missing.
      expect(service.anomalies.baselineSchema.value.feature.map((f) => f.name)).toEqual(['d__conv_rate', 'customer_profile__segment']);
      expect(reasons(service.anomalies)).toEqual({ customer_profile__segment: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'] });
    });

    it('refuses a view without a schema, a saved dataset and drift without validation, before scanning', async () => {
      const cases: [Parameters<typeof client.computeStatistics>[0], Code, RegExp][] = [
        [
          { scope: viewScope('pair_stats', T0, T0 + HOUR), validation: { enabled: true } },
          Code.FAILED_PRECONDITION,
          /feature view 'pair_stats' has no TFDV schema/,
        ],
        [
          {
            scope: { project: harness.project, kind: { case: 'materialized', value: { featureView: 'global_stats', eventTime: range(T0, T0 + HOUR) } } },
            validation: { enabled: true },
          },
          Code.FAILED_PRECONDITION,
          /feature view 'global_stats' has no TFDV schema/,
        ],
        [
          { scope: { project: harness.project, kind: { case: 'savedDataset', value: { savedDataset: 'train_v1' } } }, validation: { enabled: true } },
          Code.INVALID_ARGUMENT,
          /^validation: unsupported for a saved dataset/,
        ],
        [
          { scope: viewScope('driver_stats', T0, T0 + HOUR), validation: { drift: true } },
          Code.INVALID_ARGUMENT,
          /^validation\.drift: needs validation\.enabled/,
        ],
      ];
      const before = (await client.listStatistics({ project: harness.project, pageSize: 1000 })).records.length;
      for (const [request, code, message] of cases) {
        const error = await rpcError(() => client.computeStatistics(request));
        expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)]);
      }
      expect((await client.listStatistics({ project: harness.project, pageSize: 1000 })).records.length).toBe(before);
    });
  });
});
