// Proof of compatibility with the real TFDV (tensorflow-data-validation 1.16.1, from
// the venv @larder/testing builds): Larder's statistics (computed by DuckDB) and schema
// bytes parse in tensorflow_metadata, tfdv.validate_statistics finds the same anomalies
// as validateStatistics on a seeded dataset with planted anomalies, with the same drift
// measurements; and a schema TFDV wrote (write_schema_text) loads into a feature-view
// definition and prints back byte for byte.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DuckDBOfflineStore } from '@larder/offline-store';
import { registryV1, tfmdV0, typesV1 } from '@larder/proto';
import { defineFeatureView } from '@larder/sdk';
import { tfdvPython } from '@larder/testing';
import { schemaFromText, schemaToText, singleDataset, validateStatistics } from './index';

jest.setTimeout(600_000);

const T = typesV1.ValueType;
const ROWS = 5000;
// Deterministic pseudo-random numbers in [0, 1) from the row number.
const u = (salt: number) => `((hash(i * ${salt} + ${salt}) % 100000) / 100000.0)`;
const SPANS = {
  previous: `SELECT 10 + 10 * ${u(1)} AS fare, CASE WHEN ${u(2)} < 0.5 THEN 'Cash' ELSE 'Card' END AS pay, 20 * ${u(3)} AS tips, (i % 50)::BIGINT AS trips FROM range(0, ${ROWS}) t(i)`,
  // Planted: fare shifted by 5 (drift), 'Bitcoin' in 10% of pay (out of domain), tips missing in 40% (presence 0.9).
  current: `SELECT 15 + 10 * ${u(1)} AS fare, CASE WHEN ${u(2)} < 0.1 THEN 'Bitcoin' WHEN ${u(2)} < 0.55 THEN 'Cash' ELSE 'Card' END AS pay,
    CASE WHEN ${u(4)} < 0.4 THEN NULL ELSE 20 * ${u(3)} END AS tips, ((i + 7) % 50)::BIGINT AS trips FROM range(0, ${ROWS}) t(i)`,
};
const FEATURES = [
  { name: 'fare', type: T.DOUBLE },
  { name: 'pay', type: T.STRING },
  { name: 'tips', type: T.DOUBLE },
  { name: 'trips', type: T.INT64 },
];
const SCHEMA = schemaFromText(`
feature { name: "fare" type: FLOAT presence { min_fraction: 1.0 min_count: 1 } drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }
feature { name: "pay" type: BYTES presence { min_fraction: 1.0 } domain: "pay" drift_comparator { infinity_norm { threshold: 0.2 } } }
feature { name: "tips" type: FLOAT presence { min_fraction: 0.9 } float_domain { min: 0 } }
feature { name: "trips" type: INT int_domain { min: 0 max: 100 } drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }
feature { name: "gone" type: INT presence { min_count: 1 } }
string_domain { name: "pay" value: "Cash" value: "Card" }
`);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let dir: string;
let store: DuckDBOfflineStore;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'larder-tfdv-validate-'));
  store = await DuckDBOfflineStore.create();
});
afterAll(async () => {
  await store?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function statisticsOf(span: keyof typeof SPANS): Promise<tfmdV0.DatasetFeatureStatisticsList> {
  const file = path.join(dir, `${span}.parquet`);
  await store.run(`COPY (${SPANS[span]}) TO '${file}' (FORMAT parquet)`);
  return store.computeStatistics({ input: { kind: 'location', location: { kind: 'file', path: file }, label: span, features: FEATURES }, datasetName: span });
}

const reasonsByFeature = (anomalyInfo: Record<string, { reason: { type: string }[] }>) =>
  Object.fromEntries(Object.entries(anomalyInfo).map(([name, info]) => [name, info.reason.map((r) => r.type).sort()]));

test('TFDV and Larder find the same anomalies in Larder statistics, and TFDV schemas round-trip through a definition', async () => {
  const [current, previous] = await Promise.all([statisticsOf('current'), statisticsOf('previous')]);
  const paths = {
    current: path.join(dir, 'current.binpb'),
    previous: path.join(dir, 'previous.binpb'),
    schema: path.join(dir, 'schema.binpb'),
    inferred_schema_out: path.join(dir, 'inferred.pbtxt'),
  };
  writeFileSync(paths.current, toBinary(tfmdV0.DatasetFeatureStatisticsListSchema, current));
  writeFileSync(paths.previous, toBinary(tfmdV0.DatasetFeatureStatisticsListSchema, previous));
  writeFileSync(paths.schema, toBinary(tfmdV0.SchemaSchema, SCHEMA));

  const python = await tfdvPython();
  const run = promisify(execFile)(python, [path.resolve(__dirname, '../test/tfdv_validate.py')], { maxBuffer: 64 * 1024 * 1024, timeout: 480_000 });
  run.child.stdin!.end(JSON.stringify(paths));
  const theirs = (JSON.parse((await run).stdout) as { anomalies: Json }).anomalies;

  const ours = validateStatistics(singleDataset(current), SCHEMA, { previous: singleDataset(previous) });
  const oursByFeature = reasonsByFeature(
    Object.fromEntries(
      Object.entries(ours.anomalyInfo).map(([k, v]) => [k, { reason: v.reason.map((r) => ({ type: tfmdV0.AnomalyInfo_Type[r.type] as string })) }]),
    ),
  );
  // The planted anomalies, found by both.
  expect(oursByFeature).toEqual({
    fare: ['COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH'],
    pay: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'],
    tips: ['FEATURE_TYPE_LOW_FRACTION_PRESENT'],
    gone: ['SCHEMA_MISSING_COLUMN'],
  });
  expect(reasonsByFeature(theirs['anomaly_info'])).toEqual(oursByFeature);
  for (const [name, info] of Object.entries(ours.anomalyInfo)) {
    expect([name, theirs['anomaly_info'][name]['severity']]).toEqual([name, tfmdV0.AnomalyInfo_Severity[info.severity]]);
  }
  // The same drift measurements, to rounding.
  const measurements = (list: { path?: { step: string[] }; drift_measurements?: Json[] }[]): Record<string, [string, number][]> =>
    Object.fromEntries(list.map((d) => [d.path?.step[0], (d.drift_measurements ?? []).map((m) => [m['type'], Number(m['value'])])]));
  const ourMeasurements = measurements(
    ours.driftSkewInfo.map((d) => ({
      path: { step: d.path?.step ?? [] },
      drift_measurements: d.driftMeasurements.map((m) => ({ type: tfmdV0.DriftSkewInfo_Measurement_Type[m.type], value: m.value })),
    })),
  );
  const theirMeasurements = measurements(theirs['drift_skew_info']);
  expect(Object.keys(ourMeasurements).sort()).toEqual(Object.keys(theirMeasurements).sort());
  for (const [name, list] of Object.entries(ourMeasurements)) {
    list.forEach(([type, value], i) => {
      const [theirType, theirValue] = theirMeasurements[name]?.[i] ?? ['none', NaN];
      expect(type).toBe(theirType);
      expect(Math.abs(value - theirValue)).toBeLessThan(1e-9);
    });
  }
  expect(ourMeasurements['fare']?.[0]?.[1]).toBeGreaterThan(0.1);
  expect(ourMeasurements['trips']?.[0]?.[1]).toBeLessThan(0.1);

  // TFDV's schema.pbtxt -> a feature view definition -> the registry's bytes -> text: unchanged.
  const written = readFileSync(paths.inferred_schema_out, 'utf8');
  const view = defineFeatureView({ name: 'rides', schema: FEATURES.map((f) => ({ name: f.name, valueType: f.type })), validation: { schema: written } });
  const stored = fromBinary(registryV1.FeatureViewSchema, toBinary(registryV1.FeatureViewSchema, view));
  expect(schemaToText(stored.validation?.schema as tfmdV0.Schema)).toBe(written);
  expect(equals(tfmdV0.SchemaSchema, stored.validation?.schema as tfmdV0.Schema, schemaFromText(written))).toBe(true);
  // And the schema TFDV inferred from the previous span passes it, in Larder too.
  expect(Object.keys(validateStatistics(singleDataset(previous), schemaFromText(written)).anomalyInfo)).toEqual([]);
});
