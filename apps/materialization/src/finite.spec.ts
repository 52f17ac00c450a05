// An offline source holding NaN and ±Infinity, materialized by the real service: the job
// succeeds, those values are served as missing (null), finite ones as they are, and the
// count is logged per view. Ingestion refuses such values; see finite.ts for why a copy
// nulls them rather than failing the view.
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { typesV1 } from '@larder/proto';
import { startHarness, statsDescriptor, ts, watchToEnd, WINDOW } from './testing';
import type { Harness } from './testing';
import { nullNonFinite } from './finite';

jest.setTimeout(60_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ online: { type: 'sqlite' }, offline: { type: 'duckdb' } });
  const db = await DuckDBInstance.create();
  const connection = await db.connect();
  const file = path.join(harness.dir, 'driver.parquet').replace(/'/g, "''");
  await connection.run(`COPY (
    SELECT i::BIGINT AS driver_id,
      TIMESTAMP '2026-01-01 02:00:00' AS event_timestamp,
      TIMESTAMP '2026-01-01 02:00:00' AS created,
      CASE i WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 'Infinity'::DOUBLE WHEN 2 THEN '-Infinity'::DOUBLE ELSE 0.5 END AS conv_rate,
      (10 + i)::BIGINT AS trips_raw, 'l' || i::VARCHAR AS label, true AS active
    FROM range(0, 4) t(i)) TO '${file}' (FORMAT parquet)`);
  connection.closeSync();
}, 60_000);
afterAll(() => harness?.close());

test('NaN and ±Infinity from the source are written as null, the rest of the row as it is; the job succeeds', async () => {
  const started = await harness.jobs.materialize({
    project: harness.project,
    featureViews: ['driver_stats'],
    startTime: ts(WINDOW.start),
    endTime: ts(WINDOW.end),
  });
  const done = await watchToEnd(harness.jobs, started.job!.id);
  expect(done.error).toBe('');
  const keys = [0, 1, 2, 3].map((id) => ({
    joinKeys: ['driver_id'],
    entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: BigInt(id) } } as typesV1.Value],
  }));
  const [rows] = await harness.store.read([{ view: statsDescriptor(harness.project), entityKeys: keys }]);
  const plain = (v: typesV1.Value | undefined): unknown => (v === undefined || v.val.case === undefined || v.val.case === 'nullVal' ? null : v.val.value);
  expect((rows ?? []).map((row) => row?.values.map(plain))).toEqual([
    [null, 10n, 'l0'],
    [null, 11n, 'l1'],
    [null, 12n, 'l2'],
    [0.5, 13n, 'l3'],
  ]);
  expect(harness.logs.join('\n')).toMatch(/NaN or ±Infinity feature values in the source were written as null.*"view":"driver_stats","values":3/);
});

test('nullNonFinite: typed and plain columns, lists whole, other types untouched', () => {
  const T = typesV1.ValueType;
  expect(nullNonFinite(new Float64Array([1, NaN, Infinity]), T.DOUBLE)).toEqual({ column: [1, null, null], nulled: 2 });
  const finite = new Float64Array([1, 2]);
  expect(nullNonFinite(finite, T.DOUBLE).column).toBe(finite);
  expect(nullNonFinite([null, -Infinity, 3], T.FLOAT)).toEqual({ column: [null, null, 3], nulled: 1 });
  expect(nullNonFinite([[1, NaN], [2], null], T.DOUBLE_LIST)).toEqual({ column: [null, [2], null], nulled: 1 });
  expect(nullNonFinite([NaN as unknown as bigint], T.INT64)).toEqual({ column: [NaN], nulled: 0 });
});
