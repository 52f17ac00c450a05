// Statistics against the real TFDV (on DuckDB) and across engines (PostgreSQL and the
// BigQuery emulator agree with DuckDB), on a seeded dataset.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toBinary } from '@bufbuild/protobuf';
import { tfmdV0, typesV1 } from '@larder/proto';
import { seededRandom, tfdvPython } from '@larder/testing';
import { InvalidRequestError } from '../errors';
import { allEngines } from '../testing/all-engines';
import { viewBatchSource } from '../testing/engines';
import type { EngineUnderTest } from '../testing/engines';
import type { TableSpec, ViewSpec } from '../testing/dataset';
import type { Cell } from '../types';

const { ValueType } = typesV1;
const run = promisify(execFile);
const ROWS = 3000;
const T0 = Date.UTC(2025, 0, 1);
/** Rank error allowed per quantile: DuckDB samples 100,000 values (exact below), BigQuery approximates (APPROX_QUANTILES). */
const RANK_EPS = 0.01;
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];

function dataset(): TableSpec {
  const random = seededRandom(18);
  const rows: Record<string, Cell>[] = [];
  for (let i = 0; i < ROWS; i++) {
    // Skewed picks so every word has its own frequency (top values have no ties).
    const word = WORDS[Math.floor(WORDS.length * random() ** 2)]!;
    rows.push({
      event_timestamp: new Date(T0 + i * 60_000),
      trips: BigInt(Math.floor(random() * 100) - 10),
      rate: random() < 0.1 ? null : Math.round((random() * 2 - 0.5) * 1e6) / 1e3,
      city: random() < 0.05 ? null : word,
    });
  }
  return {
    name: 'stats',
    columns: [
      { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
      { name: 'trips', type: ValueType.INT64 },
      { name: 'rate', type: ValueType.DOUBLE },
      { name: 'city', type: ValueType.STRING },
    ],
    rows,
  };
}

const view: Omit<ViewSpec, 'table'> = {
  name: 'stats',
  timestampField: 'event_timestamp',
  joinKeys: [],
  features: [
    { name: 'trips', type: ValueType.INT64 },
    { name: 'rate', type: ValueType.DOUBLE },
    { name: 'city', type: ValueType.STRING },
  ],
  ttlMs: 0,
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function feature(stats: tfmdV0.DatasetFeatureStatisticsList, name: string): tfmdV0.FeatureNameStatistics {
  const found = stats.datasets[0]!.features.find((f) => f.fieldId.case === 'name' && f.fieldId.value === name);
  if (!found) throw new Error(`no statistics for ${name}`);
  return found;
}

const relClose = (actual: number, expected: number, tolerance: number): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
};

/** Exact ranks from the data: the quantile value v at fraction f must have f within [rank(<v), rank(<=v)] ± eps. */
function expectQuantilesWithin(values: number[], numStats: tfmdV0.NumericStatistics, eps: number): void {
  const sorted = [...values].sort((a, b) => a - b);
  const below = (v: number, inclusive: boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (inclusive ? sorted[mid]! <= v : sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo / sorted.length;
  };
  const quantiles = numStats.histograms.find((h) => h.type === tfmdV0.Histogram_HistogramType.QUANTILES)!;
  const points: [number, number][] = [[0.5, numStats.median]];
  quantiles.buckets.forEach((b, k) => points.push([k / quantiles.buckets.length, b.lowValue]));
  points.push([1, quantiles.buckets.at(-1)!.highValue]);
  for (const [fraction, value] of points) {
    expect(fraction).toBeGreaterThanOrEqual(below(value, false) - eps);
    expect(fraction).toBeLessThanOrEqual(below(value, true) + eps);
  }
}

describe('statistics', () => {
  const table = dataset();
  const request = (location: EngineUnderTest['load'] extends (...a: never[]) => Promise<infer L> ? L : never) => ({
    input: { kind: 'source' as const, source: viewBatchSource({ ...view, table }, location), features: view.features },
    datasetName: 'stats',
  });

  describe('against TFDV 1.16.1 on DuckDB', () => {
    let engine: EngineUnderTest;
    let dir: string;
    beforeAll(async () => {
      engine = await allEngines()[0]!.start();
      dir = mkdtempSync(path.join(tmpdir(), 'larder-stats-'));
    });
    afterAll(async () => {
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes bytes tensorflow_metadata parses, agreeing with generate_statistics_from_dataframe', async () => {
      const location = await engine.load(table);
      if (location.kind !== 'file') throw new Error('DuckDB tables are files');
      const ours = await engine.store.computeStatistics(request(location));
      const oursPath = path.join(dir, 'ours.binpb');
      writeFileSync(oursPath, toBinary(tfmdV0.DatasetFeatureStatisticsListSchema, ours));
      const python = await tfdvPython();
      const script = path.resolve(__dirname, '../../test/tfdv_statistics.py');
      const child = run(python, [script], { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
      child.child.stdin!.end(JSON.stringify({ parquet: location.path, ours: oursPath, columns: ['trips', 'rate', 'city'] }));
      const answer = JSON.parse((await child).stdout) as { ours: Json; tfdv: Json };

      // Our bytes parsed by tensorflow_metadata say what we meant.
      expect(answer.ours['datasets'][0]['num_examples']).toBe(String(ROWS));
      const tfdv = answer.tfdv['datasets'][0];
      expect(Number(tfdv['num_examples'])).toBe(ROWS);
      const theirs = (name: string): Json => tfdv['features'].find((f: Json) => (f['path']?.['step']?.[0] ?? f['name']) === name);

      for (const name of ['trips', 'rate']) {
        const mine = feature(ours, name);
        const t = theirs(name);
        expect(tfmdV0.FeatureNameStatistics_Type[mine.type]).toBe(t['type'] ?? 'INT');
        if (mine.stats.case !== 'numStats') throw new Error('numeric');
        const n = mine.stats.value;
        const tn = t['num_stats'];
        expect(String(n.commonStats!.numNonMissing)).toBe(tn['common_stats']['num_non_missing']);
        expect(String(n.commonStats!.numMissing)).toBe(tn['common_stats']['num_missing'] ?? '0');
        expect(String(n.commonStats!.totNumValues)).toBe(tn['common_stats']['tot_num_values']);
        expect(String(n.numZeros)).toBe(tn['num_zeros'] ?? '0');
        expect(n.min).toBe(tn['min']);
        expect(n.max).toBe(tn['max']);
        relClose(n.mean, tn['mean'], 1e-9);
        relClose(n.stdDev, tn['std_dev'], 1e-9);
        const values = table.rows
          .map((r) => r[name])
          .filter((v): v is number | bigint => v !== null)
          .map(Number);
        expectQuantilesWithin(values, n, RANK_EPS);
      }

      const city = feature(ours, 'city');
      const tc = theirs('city');
      expect(tc['type']).toBe('STRING');
      if (city.stats.case !== 'stringStats') throw new Error('string');
      const s = city.stats.value;
      expect(String(s.commonStats!.numNonMissing)).toBe(tc['string_stats']['common_stats']['num_non_missing']);
      expect(String(s.commonStats!.numMissing)).toBe(tc['string_stats']['common_stats']['num_missing']);
      expect(String(s.unique)).toBe(tc['string_stats']['unique']);
      relClose(s.avgLength, tc['string_stats']['avg_length'], 1e-6);
      const top = new Map<string, number>(tc['string_stats']['top_values'].map((v: Json) => [v['value'], v['frequency']]));
      expect(s.topValues.length).toBe(10);
      for (const v of s.topValues) expect(v.frequency).toBe(top.get(v.value));
      expect(s.rankHistogram!.buckets.map((b) => b.label)).toEqual(s.topValues.map((v) => v.value));
    }, 600_000);
  });

  describe('PostgreSQL and BigQuery agree with DuckDB', () => {
    const engines = allEngines();
    let reference: tfmdV0.DatasetFeatureStatisticsList;
    beforeAll(async () => {
      const duckdb = await engines[0]!.start();
      try {
        reference = await duckdb.store.computeStatistics(request(await duckdb.load(table)));
      } finally {
        await duckdb.cleanup();
      }
    });

    it.each(engines.slice(1).map((e) => [e.name, e] as const))(
      '%s',
      async (_name, spec) => {
        const engine = await spec.start();
        try {
          const stats = await engine.store.computeStatistics(request(await engine.load(table)));
          expect(stats.datasets[0]!.numExamples).toBe(reference.datasets[0]!.numExamples);
          for (const name of ['trips', 'rate']) {
            const mine = feature(stats, name).stats;
            const ref = feature(reference, name).stats;
            if (mine.case !== 'numStats' || ref.case !== 'numStats') throw new Error('numeric');
            expect(mine.value.commonStats).toEqual(
              expect.objectContaining({ numNonMissing: ref.value.commonStats!.numNonMissing, numMissing: ref.value.commonStats!.numMissing }),
            );
            expect([mine.value.min, mine.value.max, mine.value.numZeros]).toEqual([ref.value.min, ref.value.max, ref.value.numZeros]);
            relClose(mine.value.mean, ref.value.mean, 1e-9);
            relClose(mine.value.stdDev, ref.value.stdDev, 1e-9);
            const values = table.rows
              .map((r) => r[name])
              .filter((v): v is number | bigint => v !== null)
              .map(Number);
            expectQuantilesWithin(values, mine.value, RANK_EPS);
          }
          const city = feature(stats, 'city').stats;
          const ref = feature(reference, 'city').stats;
          if (city.case !== 'stringStats' || ref.case !== 'stringStats') throw new Error('string');
          expect([city.value.unique, city.value.commonStats!.numNonMissing]).toEqual([ref.value.unique, ref.value.commonStats!.numNonMissing]);
          expect(city.value.topValues.map((v) => [v.value, v.frequency])).toEqual(ref.value.topValues.map((v) => [v.value, v.frequency]));
          relClose(city.value.avgLength, ref.value.avgLength, 1e-6);
        } finally {
          await engine.cleanup();
        }
      },
      300_000,
    );
  });

  describe('requests', () => {
    let engine: EngineUnderTest;
    beforeAll(async () => {
      engine = await allEngines()[0]!.start();
    });
    afterAll(() => engine.cleanup());

    it('counts only the rows in a half-open event window, and the latest per key for a materialized window', async () => {
      const location = await engine.load(table);
      const base = request(location);
      const windowed = await engine.store.computeStatistics({
        ...base,
        input: { ...base.input, window: { column: 'event', start: new Date(T0 + 100 * 60_000), end: new Date(T0 + 200 * 60_000) } },
      });
      expect(windowed.datasets[0]!.numExamples).toBe(100n);
      const latest = await engine.store.computeStatistics({
        ...base,
        input: { ...base.input, window: { column: 'event', start: new Date(T0), end: new Date(T0 + ROWS * 60_000) }, latestPerKey: [] },
      });
      // A view without entities has one key: one row, the last.
      expect(latest.datasets[0]!.numExamples).toBe(1n);
      const trips = feature(latest, 'trips').stats;
      if (trips.case !== 'numStats') throw new Error('numeric');
      expect(trips.value.min).toBe(Number(table.rows.at(-1)!['trips']));
    });

    it('refuses options out of bounds and backwards windows, naming them', async () => {
      const location = await engine.load(table);
      const base = request(location);
      await expect(engine.store.computeStatistics({ ...base, options: { topValues: 1_000_000 } })).rejects.toThrow(
        new InvalidRequestError('options.topValues', 'must be an integer in [0, 1000] (0: 10), got 1000000'),
      );
      await expect(engine.store.computeStatistics({ ...base, options: { histogramBuckets: -1 } })).rejects.toThrow(/options\.histogramBuckets/);
      await expect(
        engine.store.computeStatistics({ ...base, input: { ...base.input, window: { column: 'event', start: new Date(T0 + 1000), end: new Date(T0) } } }),
      ).rejects.toThrow(/window: start .* is after end/);
      await expect(
        engine.store.computeStatistics({ ...base, input: { ...base.input, window: { column: 'created', start: new Date(T0), end: new Date(T0 + 1) } } }),
      ).rejects.toThrow(/no created_timestamp_column/);
    });

    it('describes list features by their value counts', async () => {
      const location = await engine.load({
        name: 'lists',
        columns: [
          { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
          { name: 'tags', type: ValueType.STRING_LIST },
        ],
        rows: [
          { event_timestamp: new Date(T0), tags: ['a', 'b', 'c'] },
          { event_timestamp: new Date(T0), tags: ['a'] },
          { event_timestamp: new Date(T0), tags: null },
        ],
      });
      const stats = await engine.store.computeStatistics({
        input: {
          kind: 'source',
          source: { name: 'lists', location, timestampField: 'event_timestamp' },
          features: [{ name: 'tags', type: ValueType.STRING_LIST }],
        },
        datasetName: 'lists',
      });
      const tags = feature(stats, 'tags').stats;
      if (tags.case !== 'stringStats') throw new Error('string');
      expect(tags.value.commonStats).toEqual(
        expect.objectContaining({ numNonMissing: 2n, numMissing: 1n, minNumValues: 1n, maxNumValues: 3n, totNumValues: 4n, avgNumValues: 2 }),
      );
    });
  });
});
