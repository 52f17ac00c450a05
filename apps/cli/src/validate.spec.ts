// larder infer-schema and larder validate over a real feature repo (larder init's
// driver-stats) and statistics computed by DuckDB from its sample data.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { initRepo } from '@larder/feature-repo';
import { DuckDBOfflineStore } from '@larder/offline-store';
import { tfmdV0, typesV1 } from '@larder/proto';
import { runCli } from './cli';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
let work: string;
let repo: string;
let statsFile: string;

async function larder(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTty: false, cwd: repo, env: { LARDER_REGISTRY: '' } });
  return { code, out, err };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-validate-'));
  repo = path.join(work, 'repo');
  await initRepo(repo);
  const store = await DuckDBOfflineStore.create();
  try {
    const stats = await store.computeStatistics({
      input: {
        kind: 'location',
        location: { kind: 'file', path: path.join(repo, 'data', 'driver_stats.parquet') },
        label: 'sample',
        features: [
          { name: 'conv_rate', type: T.FLOAT },
          { name: 'acc_rate', type: T.FLOAT },
          { name: 'avg_daily_trips', type: T.INT64 },
        ],
      },
      datasetName: 'driver_hourly_stats',
    });
    statsFile = path.join(repo, 'stats.pb');
    writeFileSync(statsFile, toBinary(tfmdV0.DatasetFeatureStatisticsListSchema, stats));
  } finally {
    await store.close();
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('infer-schema writes schemas/VIEW.pbtxt and links it; validate passes the data it came from, exits 1 with the anomalies of a stricter schema', async () => {
  const inferred = await larder('infer-schema', '--view', 'driver_hourly_stats', '--stats', 'stats.pb');
  expect(inferred).toMatchObject({ code: 0, err: '' });
  expect(inferred.out).toBe(
    "wrote schemas/driver_hourly_stats.pbtxt: 3 features\ndriver_stats.yaml: feature view 'driver_hourly_stats' " +
      'now has validation.schema_file: schemas/driver_hourly_stats.pbtxt (review it, then larder apply)\n',
  );
  const text = readFileSync(path.join(repo, 'schemas/driver_hourly_stats.pbtxt'), 'utf8');
  expect(text).toContain(
    'feature {\n  name: "conv_rate"\n  value_count {\n    min: 1\n    max: 1\n  }\n  type: FLOAT\n  presence {\n    min_fraction: 1.0\n    min_count: 1\n  }\n}\n',
  );
  expect(readFileSync(path.join(repo, 'driver_stats.yaml'), 'utf8')).toContain('validation:\n  schema_file: schemas/driver_hourly_stats.pbtxt\n');

  const clean = await larder('validate', '--view', 'driver_hourly_stats', '--stats', 'stats.pb');
  expect(clean).toMatchObject({ code: 0, err: '' });
  expect(clean.out).toMatch(/^no anomalies: 3 features of \d+ examples keep the schema\n$/);

  writeFileSync(
    path.join(repo, 'strict.pbtxt'),
    `${text}feature { name: "conv_rate" }\n`
      .replace('feature { name: "conv_rate" }\n', '')
      .replace('  type: FLOAT\n', '  type: FLOAT\n  float_domain {\n    max: 0.5\n  }\n'),
  );
  const strict = await larder('validate', '--schema', 'strict.pbtxt', '--stats', 'stats.pb', '--out', 'anomalies.pbtxt');
  expect(strict.code).toBe(1);
  expect(strict.out.split('\n')[0]).toMatch(/^FEATURE\s+SEVERITY\s+ANOMALY\s+DESCRIPTION$/);
  expect(strict.out).toMatch(/\nconv_rate\s+ERROR\s+FLOAT_TYPE_BIG_FLOAT\s+The largest value, 0\.9\d*, is above the domain's maximum 0\.5\.\n/);
  expect(readFileSync(path.join(repo, 'anomalies.pbtxt'), 'utf8')).toContain('type: FLOAT_TYPE_BIG_FLOAT');

  const asJson = await larder('validate', '--schema', 'strict.pbtxt', '--stats', 'stats.pb', '-o', 'json');
  expect(asJson.code).toBe(1);
  const parsed = JSON.parse(asJson.out) as { anomaly_info: Record<string, { reason: { type: string }[] }> };
  expect(Object.keys(parsed.anomaly_info)).toEqual(['conv_rate']);
  expect(parsed.anomaly_info['conv_rate']?.reason[0]?.type).toBe('FLOAT_TYPE_BIG_FLOAT');
});

test('bad input is named: a broken schema file by line and column, missing flags, statistics that are not statistics', async () => {
  writeFileSync(path.join(repo, 'broken.pbtxt'), 'feature {\n  name: "x"\n  typo: 1\n}\n');
  const broken = await larder('validate', '--schema', 'broken.pbtxt', '--stats', 'stats.pb');
  expect(broken.code).toBe(2);
  expect(broken.err).toContain("broken.pbtxt:3:3: tensorflow.metadata.v0.Feature has no field 'typo'");
  const noStats = await larder('validate', '--view', 'driver_hourly_stats');
  expect(noStats.code).toBe(2);
  expect(noStats.err).toContain('--stats FILE is required');
  const notStats = await larder('validate', '--view', 'driver_hourly_stats', '--stats', 'broken.pbtxt');
  expect(notStats.code).toBe(2);
  expect(notStats.err).toContain('--stats broken.pbtxt: not a TFDV DatasetFeatureStatisticsList');
  const noSchema = await larder('validate', '--view', 'driver_hourly_stats_fresh', '--stats', 'stats.pb');
  expect(noSchema.err).toContain("feature view 'driver_hourly_stats_fresh' has no schema");
  const outside = await larder('infer-schema', '--view', 'driver_hourly_stats', '--stats', 'stats.pb', '--out', '../escape.pbtxt');
  expect(outside.code).not.toBe(0);
  expect(outside.err).toContain('must be inside the repo');
});
