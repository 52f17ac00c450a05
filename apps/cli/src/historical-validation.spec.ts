// `larder get-historical-features --validate`: the training set's statistics computed by
// the engine where it was written and checked against its views' TFDV schemas, against
// the real registry and offline-retrieval services (child processes) on DuckDB.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { DuckDBInstance } from '@duckdb/node-api';
import { offlineV1, registryV1, typesV1 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { schemaFromText } from '@larder/validation';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-train-validate-'));
let registry: RunningLarderApp;
let retrieval: RunningLarderApp;

beforeAll(async () => {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  const at = (hhmm: string): string => `TIMESTAMP '2024-01-01 ${hhmm}:00'`;
  // Driver 1002's 11:00 row holds a planted bad value: a conversion rate of 7.5.
  await connection.run(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:00')}, 0.1::DOUBLE, 5::BIGINT), (1002, ${at('10:00')}, ` +
      `0.5, 7), (1002, ${at('11:00')}, 7.5, 8)) t(driver_id, event_ts, conv_rate, trips)) TO ` +
      `'${work}/driver_stats.parquet' (FORMAT parquet)`,
  );
  await connection.run(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:30')}), (1002, ${at('10:30')})) t(driver_id, event_timestamp)) TO '${work}/clean.parquet' (FORMAT parquet)`,
  );
  await connection.run(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:30')}), (1002, ${at('11:30')})) t(driver_id, event_timestamp)) TO '${work}/planted.parquet' (FORMAT parquet)`,
  );
  connection.closeSync();
  duck.closeSync();
  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({
    project: 'rides',
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }],
    dataSources: [{ name: 'driver_src', timestampField: 'event_ts', kind: { case: 'file', value: { path: path.join(work, 'driver_stats.parquet') } } }],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'driver_src',
        schema: [
          { name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE },
          { name: 'trips', valueType: typesV1.ValueType.INT64 },
        ],
        validation: {
          schema: schemaFromText(`feature { name: "conv_rate" type: FLOAT presence { min_fraction: 1.0 } float_domain { min: 0 max: 1 } }
feature { name: "trips" type: INT int_domain { min: 0 } }`),
        },
      },
    ],
  });
  client.close();
  retrieval = await startLarderApp({
    app: 'offline-retrieval',
    env: { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_METRICS_ENABLED: 'false', LARDER_OFFLINE_READ_ROOTS: work, LARDER_OFFLINE_WRITE_ROOT: work },
  });
});

afterAll(async () => {
  await retrieval?.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

const features = ['--features', 'driver_stats:conv_rate,driver_stats:trips'];

test('--validate passes a clean training set and catches a planted bad value (exit 1, the set kept); --fail-on-anomalies registers no saved dataset', async () => {
  const clean = await larder(
    ['get-historical-features', '--offline', retrieval.address, '--entities', 'clean.parquet', ...features, '--out', 'clean_train.parquet', '--validate'],
    work,
  );
  expect(clean.code).toBe(0);
  expect(clean.stdout).toContain("Validation: the training set keeps its views' schemas.\n");

  const planted = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'planted.parquet',
      ...features,
      '--out',
      'planted_train.parquet',
      '--full-feature-names',
      '--validate',
    ],
    work,
  );
  expect(planted.code).toBe(1);
  expect(planted.stdout).toMatch(
    new RegExp(
      "Validation: the training set breaks its views' schemas:\\nCOLUMN\\s+ANOMALY\\s+DESCRIPTION\\n" +
        "driver_stats__conv_rate\\s+FLOAT_TYPE_BIG_FLOAT\\s+The largest value, 7\\.5, is above the domain's maximum 1\\.\\n$",
    ),
  );

  const json = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'planted.parquet',
      ...features,
      '--out',
      'planted_train.parquet',
      '--overwrite',
      '--validate',
      '-o',
      'json',
    ],
    work,
  );
  expect(json.code).toBe(1);
  const summary = JSON.parse(json.stdout) as { anomalies: { anomaly_info: Record<string, { reason: { type: string }[] }> } };
  expect(Object.keys(summary.anomalies.anomaly_info)).toEqual(['conv_rate']);

  const refused = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'planted.parquet',
      ...features,
      '--out',
      'refused_train.parquet',
      '--fail-on-anomalies',
      '--saved-dataset',
      'train_bad',
    ],
    work,
  );
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain(
    "the training set breaks its views' schemas (it was written to the destination; no saved dataset was registered): conv_rate: FLOAT_TYPE_BIG_FLOAT",
  );
  const client = createClient(registryV1.RegistryService, registry.address);
  try {
    const listed = await client.listSavedDatasets({ project: 'rides' });
    expect(listed.savedDatasets.map((d) => d.name)).not.toContain('train_bad');
  } finally {
    client.close();
  }
});

test('the rpc refuses validation without a destination', async () => {
  const client = createClient(offlineV1.OfflineRetrievalService, retrieval.address);
  try {
    const call = async (query: MessageInitShape<typeof offlineV1.HistoricalQuerySchema>) => {
      for await (const _ of client.getHistoricalFeaturesFromSource({
        query,
        entitySource: { location: { case: 'file', value: { path: path.join(work, 'clean.parquet') } } },
      }))
        void _;
    };
    const noDestination = { project: 'rides', kind: { case: 'features' as const, value: { val: ['driver_stats:conv_rate'] } }, validation: { enabled: true } };
    await expect(call(noDestination)).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('query.validation: needs a destination'),
    });
    await expect(call(noDestination)).rejects.toBeInstanceOf(RpcError);
  } finally {
    client.close();
  }
});
