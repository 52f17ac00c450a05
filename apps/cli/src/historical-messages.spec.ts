// `larder get-historical-features` failures in the command's own terms (its flags, the
// --out forms the deployment takes), against real registry and offline-retrieval
// services as child processes: one on DuckDB, one on the BigQuery emulator.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp, testServices } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-historical-messages-'));
let registry: RunningLarderApp;
let duckRetrieval: RunningLarderApp;
let bigqueryRetrieval: RunningLarderApp;

beforeAll(async () => {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  await connection.run(
    `COPY (SELECT 1001::BIGINT AS driver_id, TIMESTAMP '2024-01-01 10:00:00' AS event_ts, 0.5::DOUBLE AS conv_rate) TO '${work}/driver_stats.parquet' (FORMAT parquet)`,
  );
  await connection.run(
    `COPY (SELECT 1001::BIGINT AS driver_id, TIMESTAMP '2024-01-01 11:00:00' AS event_timestamp) TO '${work}/entities.parquet' (FORMAT parquet)`,
  );
  await connection.run(
    `COPY (SELECT * FROM (VALUES (3, 1001::BIGINT, TIMESTAMP '2024-01-01 11:00:00'), (1, 1001, TIMESTAMP ` +
      `'2024-01-01 09:00:00'), (2, 1002, TIMESTAMP '2024-01-01 11:00:00')) t(seq, driver_id, event_timestamp)) TO ` +
      `'${work}/shuffled.parquet' (FORMAT parquet)`,
  );
  connection.closeSync();
  duck.closeSync();
  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  const { endpoint, projectId } = testServices().bigquery;
  const repo = (project: string, kind: registryV1.DataSource['kind']) => ({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }],
    dataSources: [{ name: 'driver_src', timestampField: 'event_ts', kind }],
    featureViews: [
      { name: 'driver_stats', entities: ['driver'], batchSource: 'driver_src', schema: [{ name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE }] },
    ],
  });
  await client.applyRegistry(repo('rides', { case: 'file', value: { path: path.join(work, 'driver_stats.parquet') } } as registryV1.DataSource['kind']));
  await client.applyRegistry(
    repo('rides_bq', {
      case: 'bigquery',
      value: { location: { case: 'table', value: `${projectId}.features.driver_stats` } },
    } as registryV1.DataSource['kind']),
  );
  client.close();
  const env = { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_METRICS_ENABLED: 'false', LARDER_OFFLINE_READ_ROOTS: work, LARDER_OFFLINE_WRITE_ROOT: work };
  [duckRetrieval, bigqueryRetrieval] = await Promise.all([
    startLarderApp({ app: 'offline-retrieval', env }),
    startLarderApp({
      app: 'offline-retrieval',
      env: {
        ...env,
        LARDER_OFFLINE_STORE_TYPE: 'bigquery',
        LARDER_BIGQUERY_API_ENDPOINT: endpoint,
        LARDER_BIGQUERY_PROJECT: projectId,
        LARDER_BIGQUERY_DATASET: `larder_cli_msg_${Date.now().toString(36)}`,
      },
    }),
  ]);
});

afterAll(async () => {
  await duckRetrieval?.stop();
  await bigqueryRetrieval?.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('an existing --out asks for --overwrite, the flag, not the request field', async () => {
  const args = [
    'get-historical-features',
    '--offline',
    duckRetrieval.address,
    '--project',
    'rides',
    '--entities',
    'entities.parquet',
    '--features',
    'driver_stats:conv_rate',
    '--out',
    'train.parquet',
    '-q',
  ];
  expect((await larder(args, work)).code).toBe(0);
  const again = await larder(args, work);
  expect(again.code).toBe(1);
  expect(again.stderr).toBe(
    `error: FAILED_PRECONDITION: --out train.parquet: '${path.join(work, 'train.parquet')}' already exists; pass --overwrite to replace it\n`,
  );
  expect((await larder([...args, '--overwrite'], work)).code).toBe(0);
});

test('a file --out on a BigQuery deployment names the --out forms it takes', async () => {
  const run = await larder(
    [
      'get-historical-features',
      '--offline',
      bigqueryRetrieval.address,
      '--project',
      'rides_bq',
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:conv_rate',
      '--out',
      'train.parquet',
      '-q',
    ],
    work,
  );
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(
    `error: INVALID_ARGUMENT: --out train.parquet: a file, but the offline-retrieval service at ${bigqueryRetrieval.address} runs on bigquery, which writes tables: ` +
      "give --out DATASET.TABLE or --out PROJECT.DATASET.TABLE; the CLI assumed duckdb (larder.yaml's offline_store.type): set it to bigquery for table names to be sent as bigquery tables\n",
  );
});

test('--order-column orders the entity rows of the output', async () => {
  const run = await larder(
    [
      'get-historical-features',
      '--offline',
      duckRetrieval.address,
      '--project',
      'rides',
      '--entities',
      'shuffled.parquet',
      '--order-column',
      'seq',
      '--features',
      'driver_stats:conv_rate',
      '--out',
      'ordered.parquet',
      '-q',
    ],
    work,
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    const rows = (await connection.runAndReadAll(`SELECT seq, conv_rate FROM read_parquet('${work}/ordered.parquet')`)).getRowObjectsJS();
    expect(rows).toEqual([
      { seq: 1, conv_rate: null },
      { seq: 2, conv_rate: null },
      { seq: 3, conv_rate: 0.5 },
    ]);
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
  const missing = await larder(
    [
      'get-historical-features',
      '--offline',
      duckRetrieval.address,
      '--project',
      'rides',
      '--entities',
      'shuffled.parquet',
      '--order-column',
      'sequence',
      '--features',
      'driver_stats:conv_rate',
      '--out',
      'x.parquet',
      '-q',
    ],
    work,
  );
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('has no column "sequence" (order column)');
});
