// Every engine against the brute-force oracle, on the same generated data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { typesV1 } from '@larder/proto';
import { collectRows, historicalViews, datasetEntities } from './testing/collect';
import { makeDataset } from './testing/dataset';
import { allEngines } from './testing/all-engines';
import type { EngineUnderTest } from './testing/engines';
import { keyString, pointInTimeOracle, pullLatestOracle } from './testing/oracle';
import type { Cell, PullLatestChunk, SourceLocation } from './types';
import { epochMillis, isoMicros, parseTimestampText } from './micro-date';
import {
  ColumnTypeError,
  EmptyEntitySetError,
  InvalidRequestError,
  JoinKeyTypeError,
  MissingColumnError,
  DuplicateColumnError,
  NoSourceFilesError,
} from './errors';

const { ValueType } = typesV1;
const dataset = makeDataset();
const expected = pointInTimeOracle(dataset);

describe.each(allEngines())('$name offline store', ({ name: engineName, start }) => {
  let engine: EngineUnderTest;
  const locations = new Map<string, SourceLocation>();
  let entityLocation: SourceLocation;

  beforeAll(async () => {
    engine = await start();
    const shapes = { driver_stats: 'parquet', customer_profile: 'csv', driver_customer: 'folder', global_stats: 'parquet' } as const;
    for (const view of dataset.views) locations.set(view.name, await engine.load(view.table, shapes[view.name as keyof typeof shapes]));
    entityLocation = await engine.load({ name: 'entities', columns: dataset.entityColumns, rows: dataset.entityRows });
  }, 120_000);

  afterAll(async () => {
    await engine.cleanup();
  });

  it('data set exercises the edge cases it claims to', () => {
    // Guards against a generator change that quietly drops the hard cases.
    const stats = dataset.views.find((v) => v.name === 'driver_stats')!;
    const atBoundary = dataset.entityRows.filter((e) =>
      stats.table.rows.some(
        (r) => r['driver_id'] === e['driver_id'] && (r['event_ts'] as Date).getTime() === (e['event_timestamp'] as Date).getTime() - stats.ttlMs,
      ),
    );
    expect(atBoundary.length).toBeGreaterThan(3);
    expect(expected.some((r) => r['conv_rate'] === null && r['trips'] !== null)).toBe(true); // a stored null
    expect(expected.filter((r) => r['trips'] === null).length).toBeGreaterThan(10); // no match
    expect(expected.some((r) => typeof r['trips'] === 'bigint' && r['trips'] >= 9000n)).toBe(true); // a backfill won
    expect(expected.filter((r) => r['active_drivers'] !== null).length).toBeGreaterThan(10);
    expect(expected.filter((r) => r['driver_customer__rides'] !== null).length).toBeGreaterThan(5);
  });

  it('matches the oracle with inline entity rows, in input order, in bounded chunks', async () => {
    const result = await engine.store.getHistoricalFeatures({
      entities: datasetEntities(dataset, 50),
      views: historicalViews(dataset.views, locations),
      chunkRows: 37,
    });
    expect(result.rowCount).toBe(dataset.entityRows.length);
    expect(result.schema.columns.map((c) => [c.name, c.role])).toEqual([
      ['driver_id', 'join_key'],
      ['customer', 'join_key'],
      ['event_timestamp', 'timestamp'],
      ['request_id', 'passthrough'],
      ['weight', 'passthrough'],
      ['conv_rate', 'feature'],
      ['trips', 'feature'],
      ['city', 'feature'],
      ['vip', 'feature'],
      ['customer_profile__score', 'feature'],
      ['driver_customer__rides', 'feature'],
      ['active_drivers', 'feature'],
    ]);
    const { rows, chunkSizes } = await collectRows(result);
    expect(chunkSizes.every((n) => n <= 37)).toBe(true);
    expect(chunkSizes.length).toBe(Math.ceil(dataset.entityRows.length / 37));
    expect(rows).toEqual(expected);
  });

  it('matches the oracle with entity rows read from the engine', async () => {
    const result = await engine.store.getHistoricalFeatures({
      entities: { kind: 'source', location: entityLocation, timestampColumn: 'event_timestamp' },
      views: historicalViews(dataset.views, locations),
    });
    const { rows } = await collectRows(result);
    expect(rows).toEqual(expected);
  });

  it('retrieves one view at a time the same as all together', async () => {
    for (const view of dataset.views) {
      const result = await engine.store.getHistoricalFeatures({ entities: datasetEntities(dataset), views: historicalViews([view], locations) });
      const { rows } = await collectRows(result);
      expect(rows).toEqual(pointInTimeOracle(dataset, [view]));
    }
  });

  it('pulls the latest row per entity key in a window, pushed down, and shards cover every key once', async () => {
    for (const view of dataset.views) {
      const start = new Date(Date.UTC(2024, 0, 1, 2));
      const end = new Date(Date.UTC(2024, 0, 1, 9, 30));
      const oracle = pullLatestOracle(view, start, end);
      const request = {
        source: historicalViews([view], locations)[0]!.source,
        joinKeys: view.joinKeys,
        features: view.features,
        start,
        end,
        chunkRows: 7,
      };
      const whole = await pulled(
        engine.store.pullLatest(request),
        view.joinKeys.map((k) => k.name),
      );
      expect(whole.size).toBe(oracle.size);
      for (const [key, row] of oracle) {
        const got = whole.get(key);
        expect(got).toBeDefined();
        expect(got!.eventTimestamp).toEqual(row[view.timestampField]);
        for (const f of view.features) {
          const storedName = Object.entries(view.fieldMapping ?? {}).find(([, m]) => m === f.name)?.[0] ?? f.name;
          expect(got!.values[f.outputName ?? f.name]).toEqual(row[storedName] ?? null);
        }
      }
      const seen: string[] = [];
      const sizes: number[] = [];
      for (let index = 0; index < 3; index++) {
        const shard = await pulled(
          engine.store.pullLatest({ ...request, shard: { index, count: 3 } }),
          view.joinKeys.map((k) => k.name),
        );
        seen.push(...shard.keys());
        sizes.push(shard.size);
        for (const [key, row] of shard) expect(row).toEqual(whole.get(key));
      }
      expect(seen.sort()).toEqual([...whole.keys()].sort());
      if (view.joinKeys.length > 0 && whole.size > 5) {
        // Sharding really splits: no shard holds every key.
        expect(Math.max(...sizes)).toBeLessThan(whole.size);
      }
    }
  });

  it('appends rows that retrieval and pullLatest then see', async () => {
    const view = dataset.views.find((v) => v.name === 'driver_stats')!;
    const location = await engine.load({ ...view.table, name: 'driver_stats_append' });
    const source = historicalViews([view], new Map([[view.name, location]]))[0]!.source;
    const at = new Date(Date.UTC(2024, 0, 2, 12));
    const written = await engine.store.append(source, {
      columns: { driver_id: [1001n, 1020n], conv_rate: [0.77, null], trips: [4242n, 7n] },
      eventTimestamps: [at, new Date(at.getTime() - 1000)],
    });
    expect(written).toBe(2);
    const result = await engine.store.getHistoricalFeatures({
      entities: {
        kind: 'rows',
        columns: [
          { name: 'driver_id', type: ValueType.INT64 },
          { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
        ],
        timestampColumn: 'event_timestamp',
        batches: [{ driver_id: [1001n, 1020n, 1001n], event_timestamp: [new Date(at.getTime() + 5000), at, new Date(at.getTime() - 1)] }],
      },
      views: [{ name: view.name, source, joinKeys: view.joinKeys, features: view.features, ttlMs: view.ttlMs }],
    });
    const { rows } = await collectRows(result);
    expect(rows.map((r) => [r['conv_rate'], r['trips']])).toEqual([
      [0.77, 4242n],
      [null, 7n],
      [null, null], // the 1001 row is 1 ms later; the 2 h ttl window before it holds no row
    ]);
    const latest = await pulled(
      engine.store.pullLatest({ source, joinKeys: view.joinKeys, features: view.features, start: new Date(at.getTime() - 60_000), end: at }),
      ['driver_id'],
    );
    expect([...latest.keys()].sort()).toEqual([keyString([1001n]), keyString([1020n])]);
    expect(latest.get(keyString([1001n]))!.values['trips']).toBe(4242n);
  });

  // Feast keeps event times to the microsecond; so must every engine, both ways: rows
  // 1 us apart inside one millisecond are different rows to a point-in-time join.
  describe('timestamps to the microsecond', () => {
    const at = (iso: string): Date => parseTimestampText(iso)!;
    const T = '2024-01-03T10:00:00.123';
    const features = [
      { name: 'driver_id', type: ValueType.INT64 },
      { name: 'event_ts', type: ValueType.UNIX_TIMESTAMP },
      { name: 'trips', type: ValueType.INT64 },
    ];
    const entityColumns = [
      { name: 'driver_id', type: ValueType.INT64 },
      { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
    ];
    const entityTimes = [`${T}400Z`, `${T}401Z`, `${T}402Z`, `${T}399Z`];
    // The feature row at ..400 us is the latest as of ..400 and ..401; ..402 sees its own row; ..399 none.
    const expectedTrips = [1n, 1n, 2n, null];
    const view = (location: SourceLocation) => ({
      name: 'micro',
      source: { name: 'micro', location, timestampField: 'event_ts' },
      joinKeys: [{ name: 'driver_id', type: ValueType.INT64 }],
      features: [{ name: 'trips', type: ValueType.INT64 }],
    });
    let source: SourceLocation;

    beforeAll(async () => {
      source = await engine.load({
        name: 'micro_stats',
        columns: features,
        rows: [
          { driver_id: 7n, event_ts: at(`${T}400Z`), trips: 1n },
          { driver_id: 7n, event_ts: at(`${T}402Z`), trips: 2n },
        ],
      });
    });

    const inline = () => ({
      kind: 'rows' as const,
      columns: entityColumns,
      timestampColumn: 'event_timestamp',
      batches: [{ driver_id: entityTimes.map(() => 7n), event_timestamp: entityTimes.map(at) }],
    });
    const check = (rows: Record<string, Cell>[]): void => {
      expect(rows.map((r) => isoMicros(r['event_timestamp'] as Date))).toEqual(entityTimes);
      expect(rows.map((r) => r['trips'])).toEqual(expectedTrips);
    };

    it('joins inline entity rows 1 us apart from feature rows, and returns their times to the us', async () => {
      check((await collectRows(await engine.store.getHistoricalFeatures({ entities: inline(), views: [view(source)] }))).rows);
    });

    it('joins entity rows read from the engine to the us', async () => {
      const entities = await engine.load({
        name: 'micro_entities',
        columns: entityColumns,
        rows: entityTimes.map((t) => ({ driver_id: 7n, event_timestamp: at(t) })),
      });
      check((await collectRows(await engine.store.getHistoricalFeatures({ entities: { kind: 'source', location: entities }, views: [view(source)] }))).rows);
    });

    // Read back through the engine itself: the output as entity rows (its `trips` a passthrough now).
    const readBack = async (location: SourceLocation, orderColumn?: string): Promise<Record<string, Cell>[]> => {
      const again = { ...view(source), features: [{ name: 'trips', outputName: 'again', type: ValueType.INT64 }] };
      const entities = { kind: 'source' as const, location, ...(orderColumn !== undefined && { orderColumn }) };
      const { rows } = await collectRows(await engine.store.getHistoricalFeatures({ entities, views: [again] }));
      expect(rows.map((r) => r['again'])).toEqual(expectedTrips);
      return rows;
    };

    it('writes a table output whose timestamps keep the us', async () => {
      const table = engine.scratchTable('micro_out');
      await engine.store.exportHistoricalFeatures({ entities: inline(), views: [view(source)] }, { kind: 'table', table });
      check(await readBack({ kind: 'table', table }, 'row_index'));
    });

    // Files are DuckDB's outputs only.
    if (engineName === 'duckdb')
      it('writes Parquet and CSV outputs whose timestamps keep the us', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'larder-micro-'));
        try {
          for (const format of ['parquet', 'csv'] as const) {
            const path = join(dir, `out.${format}`);
            await engine.store.exportHistoricalFeatures({ entities: inline(), views: [view(source)] }, { kind: 'file', path, format });
            check(await readBack({ kind: 'file', path, format }));
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

    it('appends rows with us that retrieval and pullLatest read back to the us', async () => {
      const location = await engine.load({ name: 'micro_append', columns: features, rows: [] });
      const src = view(location).source;
      await engine.store.append(src, { columns: { driver_id: [7n, 7n], trips: [1n, 2n] }, eventTimestamps: [at(`${T}400Z`), at(`${T}402Z`)] });
      check((await collectRows(await engine.store.getHistoricalFeatures({ entities: inline(), views: [view(location)] }))).rows);
      const pulledRows: number[] = [];
      for await (const chunk of engine.store.pullLatest({
        source: src,
        joinKeys: view(location).joinKeys,
        features: view(location).features,
        start: at(`${T}000Z`),
        end: at(`${T}999Z`),
      })) {
        pulledRows.push(...chunk.eventTs);
      }
      expect(pulledRows).toEqual([epochMillis(at(`${T}402Z`))]);
    });
  });

  // Feast and pandas write Parquet timestamps as instants (TIMESTAMPTZ). Compared with UTC
  // entity times in a session that follows the process's zone, they shift by its offset:
  // the suite runs under a non-UTC TZ too (tools/test), where that would pick future rows.
  describe('with sources and entities whose timestamps carry a zone', () => {
    const zoned = new Map<string, SourceLocation>();
    let zonedEntities: SourceLocation;

    beforeAll(async () => {
      for (const view of dataset.views)
        zoned.set(
          view.name,
          await engine.load({ ...view.table, name: `${view.table.name}_zoned` }, view.name === 'customer_profile' ? 'csv' : 'parquet', true),
        );
      zonedEntities = await engine.load({ name: 'entities_zoned', columns: dataset.entityColumns, rows: dataset.entityRows }, 'parquet', true);
    }, 120_000);

    it('matches the oracle with inline entity rows', async () => {
      const { rows } = await collectRows(
        await engine.store.getHistoricalFeatures({ entities: datasetEntities(dataset), views: historicalViews(dataset.views, zoned) }),
      );
      expect(rows).toEqual(expected);
    });

    it('matches the oracle with entity rows read from the engine', async () => {
      const result = await engine.store.getHistoricalFeatures({
        entities: { kind: 'source', location: zonedEntities, timestampColumn: 'event_timestamp' },
        views: historicalViews(dataset.views, zoned),
      });
      const { rows } = await collectRows(result);
      expect(rows).toEqual(expected);
    });

    it('pulls the latest row per key in the window', async () => {
      const view = dataset.views.find((v) => v.name === 'driver_stats')!;
      const start = new Date(Date.UTC(2024, 0, 1, 2));
      const end = new Date(Date.UTC(2024, 0, 1, 9, 30));
      const oracle = pullLatestOracle(view, start, end);
      const got = await pulled(
        engine.store.pullLatest({
          source: historicalViews([view], zoned)[0]!.source,
          joinKeys: view.joinKeys,
          features: view.features,
          start,
          end,
          chunkRows: 7,
        }),
        view.joinKeys.map((k) => k.name),
      );
      expect(new Map([...got].map(([key, row]) => [key, row.eventTimestamp]))).toEqual(
        new Map([...oracle].map(([key, row]) => [key, row[view.timestampField]])),
      );
    });
  });

  describe('errors', () => {
    const base = () => ({ entities: datasetEntities(dataset), views: historicalViews(dataset.views.slice(0, 1), locations) });

    it('names a missing timestamp column', async () => {
      const request = base();
      request.views[0]!.source.timestampField = 'when';
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(MissingColumnError);
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(/no column "when" \(timestamp_field\)/);
    });

    it('names a timestamp column that is not a timestamp', async () => {
      const request = base();
      request.views[0]!.source.timestampField = 'trips';
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(ColumnTypeError);
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(/"trips" \(timestamp_field\) has type .*expected a timestamp/);
    });

    it('names an unknown feature column', async () => {
      const request = base();
      request.views[0]!.features = [{ name: 'nope', type: ValueType.DOUBLE }];
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(/source 'driver_stats' has no column "nope" \(feature 'nope'\)/);
    });

    it('rejects a join key whose entity column has another type', async () => {
      const request = base();
      const entities = datasetEntities(dataset);
      request.entities = {
        ...entities,
        columns: entities.columns.map((c) => (c.name === 'driver_id' ? { ...c, type: ValueType.STRING } : c)),
        batches: [{ driver_id: ['1001'], customer: ['c1'], event_timestamp: [new Date()], request_id: ['x'], weight: [1] }],
      };
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(JoinKeyTypeError);
    });

    it('rejects a source key column of the wrong type', async () => {
      const request = base();
      request.views[0]!.joinKeys = [{ name: 'driver_id', type: ValueType.STRING }];
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(ColumnTypeError);
    });

    it('rejects an empty entity set', async () => {
      const request = base();
      request.entities = { ...datasetEntities(dataset), batches: [] };
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(EmptyEntitySetError);
    });

    it('rejects colliding output names and a missing entity join key', async () => {
      const request = base();
      request.views = [...request.views, ...historicalViews(dataset.views.slice(0, 1), locations)];
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(DuplicateColumnError);
      const noKey = base();
      noKey.views[0]!.joinKeys = [{ name: 'driver_id', entityColumn: 'rider_id', type: ValueType.INT64 }];
      await expect(engine.store.getHistoricalFeatures(noKey)).rejects.toThrow(/the entity rows has no column "rider_id"/);
    });

    it('names a file source whose glob matches no file, for retrieval and pull-latest', async () => {
      const request = base();
      if (request.views[0]!.source.location.kind !== 'file') return; // tables and queries have no files to miss
      request.views[0]!.source.location = { kind: 'file', path: '/nonexistent/driver-*.parquet', format: 'parquet' };
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(NoSourceFilesError);
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow("source 'driver_stats': no file matches '/nonexistent/driver-*.parquet'");
      const view = request.views[0]!;
      const pull = engine.store.pullLatest({ source: view.source, joinKeys: view.joinKeys, features: view.features, start: new Date(0), end: new Date() });
      await expect(drain(pull)).rejects.toMatchObject({ name: 'NoSourceFilesError', entities: false });
    });

    it('rejects a bad shard and a negative ttl', async () => {
      const view = dataset.views[0]!;
      const source = historicalViews([view], locations)[0]!.source;
      const pull = engine.store.pullLatest({
        source,
        joinKeys: view.joinKeys,
        features: view.features,
        start: new Date(0),
        end: new Date(),
        shard: { index: 3, count: 3 },
      });
      await expect(drain(pull)).rejects.toThrow(InvalidRequestError);
      const request = base();
      request.views[0]!.ttlMs = -1;
      await expect(engine.store.getHistoricalFeatures(request)).rejects.toThrow(InvalidRequestError);
    });
  });
});

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable) void _;
}

async function pulled(chunks: AsyncIterable<PullLatestChunk>, keys: readonly string[]) {
  const out = new Map<string, { eventTimestamp: Date; values: Record<string, Cell> }>();
  for await (const chunk of chunks) {
    expect(chunk.rowCount).toBeLessThanOrEqual(7);
    for (let r = 0; r < chunk.rowCount; r++) {
      const key = keyString(keys.map((k) => chunk.columns[k]![r]!));
      if (out.has(key)) throw new Error(`key ${key} pulled twice`);
      const values: Record<string, Cell> = {};
      for (const [name, column] of Object.entries(chunk.columns)) if (!keys.includes(name)) values[name] = column[r]!;
      out.set(key, { eventTimestamp: new Date(chunk.eventTs[r]!), values });
    }
  }
  return out;
}
