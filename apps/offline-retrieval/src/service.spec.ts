// OfflineRetrievalService over real gRPC, with the real registry, on DuckDB,
// PostgreSQL and the BigQuery emulator; every answer checked against the
// brute-force oracle on generated data.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { compileOnDemandView, emptyRegistrySet } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import type { Cell } from '@larder/offline-store';
import type { registryV1 } from '@larder/proto';
import { offlineV1, typesV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { featureRepo, makeData, oracleViews } from './testing/dataset';
import type { SourceKind, Table } from './testing/dataset';
import { bigqueryTestEngine, duckdbTestEngine, postgresTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, inlineRequests, rpcError, startHarness, cellToValue } from './testing/harness';
import type { Harness } from './testing/harness';
import { featureAt } from './testing/oracle';

const data = makeData();
const views = oracleViews(data);
const entities = data.tables.entities;

function registrySet(repo: registryV1.ApplyRegistryRequest): RegistrySet {
  return {
    ...emptyRegistrySet(repo.project),
    entities: repo.entities,
    dataSources: repo.dataSources,
    featureViews: repo.featureViews,
    onDemandFeatureViews: repo.onDemandFeatureViews,
    featureServices: repo.featureServices,
  };
}

/** Every feature of the four views with full names, as the oracle computes them. */
function expectedAllViews(): Record<string, unknown>[] {
  return entities.rows.map((e) => ({
    ...e,
    driver_stats__conv_rate: featureAt(views.driver_stats, e, 'conv_rate'),
    driver_stats__trips: featureAt(views.driver_stats, e, 'trips'),
    customer_profile__segment: featureAt(views.customer_profile, e, 'seg'),
    customer_profile__vip: featureAt(views.customer_profile, e, 'vip'),
    pair_stats__rides: featureAt(views.pair_stats, e, 'rides'),
    global_stats__active: featureAt(views.global_stats, e, 'active'),
  }));
}

const ALL_REFS = [
  'driver_stats:conv_rate',
  'driver_stats:trips',
  'customer_profile:segment',
  'customer_profile:vip',
  'pair_stats:rides',
  'global_stats:active',
];

const ENGINES: { name: string; start: () => Promise<TestEngine> }[] = [
  { name: 'duckdb', start: () => duckdbTestEngine() },
  { name: 'duckdb with TIMESTAMPTZ sources', start: () => duckdbTestEngine(true) },
  { name: 'postgres', start: postgresTestEngine },
  { name: 'bigquery', start: bigqueryTestEngine },
];

describe.each(ENGINES)('offline retrieval on $name', ({ start }) => {
  let engine: TestEngine;
  let harness: Harness;
  let entitySource: SourceKind;
  let repo: registryV1.ApplyRegistryRequest;

  beforeAll(async () => {
    engine = await start();
    const kinds = {
      driver: await engine.load(data.tables.driver),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    entitySource = await engine.load(entities);
    harness = await startHarness(engine.env, (project) => (repo = featureRepo(project, kinds)));
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
  });

  const fromSource = (kind: SourceKind, timestampColumn = ''): offlineV1.EntitySource =>
    create(offlineV1.EntitySourceSchema, { location: kind as offlineV1.EntitySource['location'], timestampColumn });

  it('joins inline entity rows point-in-time, in input order, in bounded chunks', async () => {
    const order = ['driver_id', 'customer_id', 'rider_id', 'request_id', 'amount'];
    const result = await collect(
      harness.retrieval.getHistoricalFeatures(
        inlineRequests(
          { kind: { case: 'features' as const, value: { val: ALL_REFS } }, fullFeatureNames: true, maxRowsPerChunk: 37, entityColumns: order },
          entities,
          45,
        ),
      ),
    );
    expect(result.schema.columns.map((c) => [c.name, c.role])).toEqual([
      ['driver_id', offlineV1.ColumnRole.JOIN_KEY],
      ['customer_id', offlineV1.ColumnRole.JOIN_KEY],
      ['rider_id', offlineV1.ColumnRole.PASSTHROUGH],
      ['request_id', offlineV1.ColumnRole.PASSTHROUGH],
      ['amount', offlineV1.ColumnRole.PASSTHROUGH],
      ...ALL_REFS.map((r) => [r.replace(':', '__'), offlineV1.ColumnRole.FEATURE]),
    ]);
    expect(result.schema.timestampColumn).toBe('event_timestamp');
    expect(result.chunkSizes.every((n) => n <= 37)).toBe(true);
    expect(result.chunkSizes.length).toBe(Math.ceil(entities.rows.length / 37));
    expect(result.summary.rowCount).toBe(BigInt(entities.rows.length));
    const expected = expectedAllViews();
    expect(result.rows).toEqual(expected);
    // The data exercises what it claims to: matches, misses, nulls, backfills.
    expect(expected.filter((r) => r['driver_stats__trips'] === null).length).toBeGreaterThan(10);
    expect(expected.some((r) => r['driver_stats__conv_rate'] === null && r['driver_stats__trips'] !== null)).toBe(true);
    expect(expected.some((r) => typeof r['driver_stats__trips'] === 'bigint' && r['driver_stats__trips'] >= 9000n)).toBe(true);
    expect(expected.filter((r) => r['pair_stats__rides'] !== null).length).toBeGreaterThan(3);
    expect(expected.filter((r) => r['global_stats__active'] !== null).length).toBeGreaterThan(10);
  });

  // Feast keeps event times to the microsecond; a Timestamp carries nanos. Entity times go in
  // and come back with their microseconds (nanoseconds below one are dropped, as the engines keep us).
  it('keeps entity timestamps to the microsecond, in and out', async () => {
    const rows = entities.rows.slice(0, 6);
    const micros = rows.map((r, i) => BigInt((r['event_timestamp'] as Date).getTime()) * 1000n + BigInt(1 + 97 * i));
    const stamp = (us: bigint, extraNanos = 0): Timestamp =>
      create(TimestampSchema, { seconds: us / 1_000_000n, nanos: Number(us % 1_000_000n) * 1000 + extraNanos });
    async function* requests(destination?: MessageInitShape<typeof offlineV1.OutputDestinationSchema>): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
      const query = { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } }, ...(destination && { destination }) };
      yield create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'query', value: query } });
      const kept = entities.columns.filter((c) => c.name !== 'event_timestamp');
      yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
        message: {
          case: 'entityRows',
          value: {
            columns: Object.fromEntries(kept.map((c) => [c.name, { val: rows.map((r) => cellToValue(c.type, r[c.name] ?? null)) }])),
            eventTimestamps: micros.map((us) => stamp(us, 321)),
          },
        },
      });
    }
    const got: Timestamp[] = [];
    for await (const { part } of harness.retrieval.getHistoricalFeatures(requests())) if (part.case === 'chunk') got.push(...part.value.eventTimestamps);
    expect(got.map((t) => [t.seconds, t.nanos])).toEqual(micros.map((us) => [stamp(us).seconds, stamp(us).nanos]));
    // The saved dataset's event-time range too.
    const storage = engine.destination('micro_set');
    for await (const _ of harness.retrieval.getHistoricalFeatures(requests({ storage, omitRows: true, savedDatasetName: 'micro_v1' }))) void _;
    const saved = (await harness.registry.getSavedDataset({ project: harness.project, name: 'micro_v1' })).savedDataset!;
    const [min, max] = [micros.reduce((a, b) => (a < b ? a : b)), micros.reduce((a, b) => (a > b ? a : b))];
    expect([saved.minEventTimestamp?.nanos, saved.maxEventTimestamp?.nanos]).toEqual([stamp(min).nanos, stamp(max).nanos]);
  });

  it('reads entity rows from the engine, with a feature service (alias, subset, join-key map) and on-demand features', async () => {
    const result = await collect(
      harness.retrieval.getHistoricalFeaturesFromSource({
        query: { kind: { case: 'featureService' as const, value: 'model_v1' } },
        entitySource: fromSource(entitySource),
      }),
    );
    expect(result.schema.columns.filter((c) => c.role === offlineV1.ColumnRole.FEATURE).map((c) => c.name)).toEqual(['conv_rate', 'segment', 'scaled']);
    const adjusted = compileOnDemandView(repo.onDemandFeatureViews[0]!, registrySet(repo));
    const expected = entities.rows.map((e) => {
      const conv = featureAt(views.driver_stats, e, 'conv_rate') as number | null;
      const trips = featureAt(views.driver_stats, e, 'trips');
      const online = adjusted.evaluate({
        txn: { amount: cellToValue(typesV1.ValueType.DOUBLE, e['amount'] as Cell) },
        driver_stats: { conv_rate: cellToValue(typesV1.ValueType.DOUBLE, conv), trips: cellToValue(typesV1.ValueType.INT64, trips) },
      });
      const scaled = online['scaled']?.val.case === 'doubleVal' ? online['scaled'].val.value : null;
      // The evaluator's answer is also the plain arithmetic one.
      expect(scaled).toBe(conv === null || e['amount'] === null ? null : conv * (e['amount'] as number));
      return { ...e, conv_rate: conv, segment: featureAt(views.customer_profile, e, 'seg', ['rider_id']), scaled };
    });
    expect(result.rows).toEqual(expected);
    expect(expected.filter((r) => r['scaled'] !== null).length).toBeGreaterThan(20);
  });

  it('computes on-demand features by refs over inline rows, equal to the evaluator online serving uses', async () => {
    const result = await collect(
      harness.retrieval.getHistoricalFeatures(
        inlineRequests({ kind: { case: 'features' as const, value: { val: ['adjusted:busy', 'adjusted:scaled', 'driver_stats:trips'] } } }, entities, 100),
      ),
    );
    const adjusted = compileOnDemandView(repo.onDemandFeatureViews[0]!, registrySet(repo));
    result.rows.forEach((row, i) => {
      const e = entities.rows[i]!;
      const online = adjusted.evaluate({
        txn: { amount: cellToValue(typesV1.ValueType.DOUBLE, e['amount'] as Cell) },
        driver_stats: {
          conv_rate: cellToValue(typesV1.ValueType.DOUBLE, featureAt(views.driver_stats, e, 'conv_rate')),
          trips: cellToValue(typesV1.ValueType.INT64, featureAt(views.driver_stats, e, 'trips')),
        },
      });
      const trips = featureAt(views.driver_stats, e, 'trips') as bigint | null;
      expect(row['busy']).toBe(online['busy']?.val.value ?? null);
      expect(row['busy']).toBe(trips !== null && trips > 50n);
      expect(row['scaled']).toBe(online['scaled']?.val.case === 'doubleVal' ? online['scaled'].val.value : null);
      expect(row['trips']).toBe(trips);
    });
    expect(result.schema.columns.map((c) => c.name).slice(-3)).toEqual(['busy', 'scaled', 'trips']);
  });

  it('writes the result to a destination, streams it back and registers a saved dataset', async () => {
    const storage = engine.destination('training_set');
    const query = {
      kind: { case: 'features' as const, value: { val: ALL_REFS } },
      fullFeatureNames: true,
      destination: { storage, savedDatasetName: 'training_v1', savedDatasetTags: { team: 'ml' } },
    };
    const result = await collect(harness.retrieval.getHistoricalFeaturesFromSource({ query, entitySource: fromSource(entitySource) }));
    expect(result.rows).toEqual(expectedAllViews());
    expect(result.summary.rowCount).toBe(BigInt(entities.rows.length));
    expect(result.summary.storage).toMatchObject(storage);
    const written = await engine.readBack(storage);
    expect(written).toHaveLength(entities.rows.length);
    expect(Object.keys(written[0]!)).toEqual(expect.arrayContaining(ALL_REFS.map((r) => r.replace(':', '__'))));
    const saved = (await harness.registry.getSavedDataset({ project: harness.project, name: 'training_v1' })).savedDataset!;
    expect(saved.features).toEqual(ALL_REFS);
    expect(saved.joinKeys).toEqual(['driver_id', 'customer_id']);
    expect(saved.rowCount).toBe(BigInt(entities.rows.length));
    expect(saved.tags).toEqual({ team: 'ml' });
    expect(saved.fullFeatureNames).toBe(true);
    expect(saved.storage).toMatchObject(storage);
    expect(result.summary.savedDataset?.name).toBe('training_v1');

    // An existing destination is not replaced unless asked.
    const again = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { ...query, destination: { ...query.destination, savedDatasetName: '' } },
          entitySource: fromSource(entitySource),
        }),
      ),
    );
    expect(again.code).toBe(Code.FAILED_PRECONDITION);
    const replaced = await collect(
      harness.retrieval.getHistoricalFeaturesFromSource({
        query: { ...query, destination: { storage, overwrite: true, omitRows: true } },
        entitySource: fromSource(entitySource),
      }),
    );
    expect(replaced.rows).toEqual([]);
    expect(replaced.summary.rowCount).toBe(BigInt(entities.rows.length));

    // Inline rows go to a destination too, when no rows are asked back.
    const inline = engine.destination('inline_set');
    const written2 = await collect(
      harness.retrieval.getHistoricalFeatures(
        inlineRequests({ ...query, destination: { storage: inline, omitRows: true, savedDatasetName: 'inline_v1' } }, entities, 70),
      ),
    );
    expect(written2.summary.rowCount).toBe(BigInt(entities.rows.length));
    expect(await engine.readBack(inline)).toHaveLength(entities.rows.length);
    const inlineSaved = (await harness.registry.getSavedDataset({ project: harness.project, name: 'inline_v1' })).savedDataset!;
    expect(inlineSaved.minEventTimestamp).toBeDefined();
    const resend = await rpcError(() =>
      collect(harness.retrieval.getHistoricalFeatures(inlineRequests({ ...query, destination: { storage: engine.destination('x') } }, entities))),
    );
    expect(resend.code).toBe(Code.INVALID_ARGUMENT);
    expect(resend.message).toContain('omit_rows');
    const onDemand = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { kind: { case: 'features' as const, value: { val: ['adjusted:scaled'] } }, destination: { storage: engine.destination('y') } },
          entitySource: fromSource(entitySource),
        }),
      ),
    );
    expect(onDemand.code).toBe(Code.INVALID_ARGUMENT);
    expect(onDemand.message).toContain('on-demand');
  });

  describe('bad input', () => {
    it('unknown refs are INVALID_ARGUMENT naming the ref; an unknown feature service NOT_FOUND', async () => {
      const bad = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeatures(
            inlineRequests({ kind: { case: 'features' as const, value: { val: ['driver_stats:conv_rate', 'driver_stats:nope'] } } }, entities),
          ),
        ),
      );
      expect(bad.code).toBe(Code.INVALID_ARGUMENT);
      expect(bad.message).toContain("features[1] 'driver_stats:nope'");
      const view = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: { case: 'features' as const, value: { val: ['drivr_stats:trips'] } } },
            entitySource: fromSource(entitySource),
          }),
        ),
      );
      expect(view.code).toBe(Code.INVALID_ARGUMENT);
      expect(view.message).toContain("did you mean 'driver_stats'");
      const service = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: { case: 'featureService' as const, value: 'model_v9' } },
            entitySource: fromSource(entitySource),
          }),
        ),
      );
      expect(service.code).toBe(Code.NOT_FOUND);
      expect(service.message).toContain('model_v9');
    });

    it('a missing or mistyped timestamp column is INVALID_ARGUMENT naming it', async () => {
      const missing = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } },
            entitySource: fromSource(entitySource, 'ts_nope'),
          }),
        ),
      );
      expect(missing.code).toBe(Code.INVALID_ARGUMENT);
      expect(missing.message).toContain('ts_nope');
      const mistyped = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } },
            entitySource: fromSource(entitySource, 'request_id'),
          }),
        ),
      );
      expect(mistyped.code).toBe(Code.INVALID_ARGUMENT);
      expect(mistyped.message).toContain('request_id');
      if (entitySource.case === 'file') {
        const nowhere = await rpcError(() =>
          collect(
            harness.retrieval.getHistoricalFeaturesFromSource({
              query: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } },
              entitySource: fromSource({ case: 'file', value: { ...entitySource.value, path: `${engine.dir}/nonexistent/entities.parquet` } } as SourceKind),
            }),
          ),
        );
        expect(nowhere.code).toBe(Code.INVALID_ARGUMENT);
        expect(nowhere.message).toContain(`${engine.dir}/nonexistent/entities.parquet`);
        // A glob is expanded by the engine; matching no file is still the caller's mistake, named as such.
        const noMatch = await rpcError(() =>
          collect(
            harness.retrieval.getHistoricalFeaturesFromSource({
              query: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } },
              entitySource: fromSource({ case: 'file', value: { ...entitySource.value, path: `${engine.dir}/nonexistent/part-*.parquet` } } as SourceKind),
            }),
          ),
        );
        expect(noMatch.code).toBe(Code.INVALID_ARGUMENT);
        expect(noMatch.message).toContain(`no file matches '${engine.dir}/nonexistent/part-*.parquet'`);
      }
      const ragged = await rpcError(async () => {
        async function* requests(): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
          yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
            message: { case: 'query', value: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } } },
          });
          yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
            message: { case: 'entityRows', value: { columns: { driver_id: { val: [cellToValue(typesV1.ValueType.INT64, 1001n)] } } } },
          });
        }
        return collect(harness.retrieval.getHistoricalFeatures(requests()));
      });
      expect(ragged.code).toBe(Code.INVALID_ARGUMENT);
      expect(ragged.message).toContain('event_timestamps');
    });

    it('join keys of the wrong type, or missing, are INVALID_ARGUMENT naming the column', async () => {
      const asStrings: Table = {
        ...entities,
        columns: entities.columns.map((c) => (c.name === 'driver_id' ? { ...c, type: typesV1.ValueType.STRING } : c)),
        rows: entities.rows.map((r) => ({ ...r, driver_id: String(r['driver_id']) })),
      };
      const wrong = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } }, asStrings)),
        ),
      );
      expect(wrong.code).toBe(Code.INVALID_ARGUMENT);
      expect(wrong.message).toContain("'driver_id'");
      expect(wrong.message).toContain('int64');
      const missing = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeatures(
            inlineRequests({ kind: { case: 'features' as const, value: { val: ['pair_stats:rides'] } } }, entities, 50, ['driver_id', 'request_id']),
          ),
        ),
      );
      expect(missing.code).toBe(Code.INVALID_ARGUMENT);
      expect(missing.message).toContain('customer_id');
    });

    it('an empty entity set, or a stream that does not start with the query, is INVALID_ARGUMENT', async () => {
      const empty = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeatures(
            inlineRequests({ kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } }, { ...entities, rows: [] }),
          ),
        ),
      );
      expect(empty.code).toBe(Code.INVALID_ARGUMENT);
      expect(empty.message).toContain('entity_rows');
      const none = await engine.load({ ...entities, name: 'no_entities', rows: [] });
      const emptySource = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } },
            entitySource: fromSource(none),
          }),
        ),
      );
      expect(emptySource.code).toBe(Code.INVALID_ARGUMENT);
      expect(emptySource.message).toContain('empty');
      const noQuery = await rpcError(async () => {
        async function* requests(): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
          yield create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'entityRows', value: {} } });
        }
        return collect(harness.retrieval.getHistoricalFeatures(requests()));
      });
      expect(noQuery.code).toBe(Code.INVALID_ARGUMENT);
      expect(noQuery.message).toContain('query');
    });
  });
});

describe('offline retrieval on duckdb, small messages', () => {
  it('keeps result messages under the configured size by sending fewer rows', async () => {
    const engine = await duckdbTestEngine();
    const kinds = {
      driver: await engine.load(data.tables.driver),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    const harness = await startHarness(engine.env, (project) => featureRepo(project, kinds), { LARDER_RETRIEVAL_MAX_CHUNK_BYTES: '2048' });
    try {
      const result = await collect(
        harness.retrieval.getHistoricalFeatures(
          inlineRequests({ kind: { case: 'features' as const, value: { val: ALL_REFS } }, fullFeatureNames: true }, entities, 100),
        ),
      );
      expect(result.rows).toEqual(expectedAllViews());
      expect(Math.max(...result.chunkSizes)).toBeLessThan(40);
      expect(result.chunkSizes.length).toBeGreaterThan(entities.rows.length / 40);
    } finally {
      await harness.close();
      await engine.cleanup();
    }
  }, 60_000);
});
