// `larder get-historical-features` as a user runs it: the CLI as a child process
// against the real registry and offline-retrieval services (child processes too), on
// DuckDB over Parquet files written here.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-historical-'));
let registry: RunningLarderApp;
let retrieval: RunningLarderApp;
let duck: DuckDBInstance;

async function sql(statement: string): Promise<Record<string, unknown>[]> {
  const connection = await duck.connect();
  try {
    return (await connection.runAndReadAll(statement)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
  }
}

beforeAll(async () => {
  duck = await DuckDBInstance.create(':memory:');
  const at = (hhmm: string): string => `TIMESTAMP '2024-01-01 ${hhmm}:00'`;
  await sql(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:00')}, 0.1::DOUBLE, 5::BIGINT), (1001, ${at('11:00')}, ` +
      `0.2, 6), (1002, ${at('10:30')}, 0.5, 7)) t(driver_id, event_ts, conv_rate, trips)) TO ` +
      `'${work}/driver_stats.parquet' (FORMAT parquet)`,
  );
  // In this order: 0.1, 0.2, nothing yet, no rows for 1003, 0.5 (1.5 h old, within the 2 h ttl), too old.
  await sql(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:30')}, 'a'), (1001, ${at('11:00')}, 'b'), (1002, ` +
      `${at('10:00')}, 'c'), (1003, ${at('12:00')}, 'd'), (1002, ${at('12:00')}, 'e'), (1002, ${at('12:31')}, 'f')) ` +
      `t(driver_id, event_timestamp, request_id)) TO '${work}/entities.parquet' (FORMAT parquet)`,
  );
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
        ttl: { seconds: 7200n },
        schema: [
          { name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE },
          { name: 'trips', valueType: typesV1.ValueType.INT64 },
        ],
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
  duck?.closeSync();
  rmSync(work, { recursive: true, force: true });
});

test('writes a point-in-time-correct training set and registers it as a saved dataset', async () => {
  const run = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:conv_rate,driver_stats:trips',
      '--out',
      'train.parquet',
      '--full-feature-names',
      '--saved-dataset',
      'train_v1',
      '-o',
      'json',
    ],
    work,
  );
  expect(run.stderr).toContain('rows written to train.parquet');
  expect(run.code).toBe(0);
  const summary = JSON.parse(run.stdout) as { rows: number; columns: string[]; timestamp_column: string; saved_dataset: string };
  expect(summary).toMatchObject({
    rows: 6,
    columns: ['driver_id', 'request_id', 'driver_stats__conv_rate', 'driver_stats__trips'],
    timestamp_column: 'event_timestamp',
    saved_dataset: 'train_v1',
  });
  // Between them, every column of the file: the entity timestamp is one of its columns too.
  const fileColumns = (await sql(`DESCRIBE SELECT * FROM read_parquet('${work}/train.parquet')`)).map((c) => String(c['column_name']));
  expect([...summary.columns, summary.timestamp_column].sort()).toEqual([...fileColumns].sort());
  const rows = await sql(`SELECT request_id, driver_stats__conv_rate AS conv, driver_stats__trips AS trips FROM read_parquet('${work}/train.parquet')`);
  expect(rows).toEqual([
    { request_id: 'a', conv: 0.1, trips: 5n },
    { request_id: 'b', conv: 0.2, trips: 6n },
    { request_id: 'c', conv: null, trips: null },
    { request_id: 'd', conv: null, trips: null },
    { request_id: 'e', conv: 0.5, trips: 7n },
    { request_id: 'f', conv: null, trips: null },
  ]);
  const client = createClient(registryV1.RegistryService, registry.address);
  const saved = (await client.getSavedDataset({ project: 'rides', name: 'train_v1' })).savedDataset;
  client.close();
  expect(saved?.features).toEqual(['driver_stats:conv_rate', 'driver_stats:trips']);
  expect(saved?.rowCount).toBe(6n);

  // The file exists now: replacing it takes --overwrite.
  const again = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:trips',
      '--out',
      'train.parquet',
      '-q',
    ],
    work,
  );
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('FAILED_PRECONDITION');
  const replaced = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:trips',
      '--out',
      'train.parquet',
      '--overwrite',
      '-q',
    ],
    work,
  );
  expect(replaced.code).toBe(0);
  expect(replaced.stdout).toContain('Wrote 6 rows x 4 columns');
  expect(replaced.stdout).toContain('Columns: driver_id, request_id, trips; entity timestamp: event_timestamp\n');
  // Progress lines are whole lines, the last one too.
  const shown = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:trips',
      '--out',
      'train.parquet',
      '--overwrite',
    ],
    work,
  );
  expect(shown.stderr).toMatch(/^joining 1 feature onto entities\.parquet: 6 rows written to train\.parquet \(\d+ ms\)\n$/);
});

test('bad usage exits 2; a bad ref or an unreachable service exits 1 with the reason', async () => {
  const usage = await larder(['get-historical-features', '--entities', 'entities.parquet', '--out', 'x.parquet'], work);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('--features');
  const bad = await larder(
    [
      'get-historical-features',
      '--offline',
      retrieval.address,
      '--entities',
      'entities.parquet',
      '--features',
      'driver_stats:nope',
      '--out',
      'x.parquet',
      '-q',
    ],
    work,
  );
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('INVALID_ARGUMENT');
  expect(bad.stderr).toContain('driver_stats:nope');
  const down = await larder(
    ['get-historical-features', '--offline', '127.0.0.1:1', '--entities', 'entities.parquet', '--features', 'driver_stats:trips', '--out', 'x.parquet', '-q'],
    work,
  );
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('offline-retrieval service at 127.0.0.1:1 is unavailable');
});
