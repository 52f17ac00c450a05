// `larder stats` as a user runs it: the CLI as a child process against the real registry
// and offline-retrieval services (child processes too), on DuckDB over a Parquet file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { DuckDBInstance } from '@duckdb/node-api';
import { registryV1, tfmdV0, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-stats-'));
let registry: RunningLarderApp;
let retrieval: RunningLarderApp;

beforeAll(async () => {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  const at = (hhmm: string): string => `TIMESTAMP '2024-01-01 ${hhmm}:00'`;
  await connection.run(
    `COPY (SELECT * FROM (VALUES (1001::BIGINT, ${at('10:00')}, 0.5::DOUBLE, 'red'), (1002, ${at('10:30')}, 1.5, ` +
      `'red'), (1003, ${at('11:00')}, NULL, 'blue'), (1004, ${at('13:00')}, 9.0, 'green')) t(driver_id, event_ts, ` +
      `conv_rate, color)) TO '${work}/drivers.parquet' (FORMAT parquet)`,
  );
  connection.closeSync();
  duck.closeSync();
  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({
    project: 'rides',
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }],
    dataSources: [{ name: 'driver_src', timestampField: 'event_ts', kind: { case: 'file', value: { path: path.join(work, 'drivers.parquet') } } }],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'driver_src',
        schema: [
          { name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE },
          { name: 'color', valueType: typesV1.ValueType.STRING },
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
  rmSync(work, { recursive: true, force: true });
});

it("prints a view's statistics over a range as a table, writes the TFDV bytes, and lists them", async () => {
  const run = await larder(
    [
      'stats',
      '--offline',
      retrieval.address,
      '--view',
      'driver_stats',
      '--start',
      '2024-01-01T10:00:00',
      '--end',
      '2024-01-01T12:00:00',
      '--out',
      'stats.binpb',
    ],
    work,
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.split('\n');
  expect(lines[0]).toMatch(/^Statistics [0-9a-f-]{36}: 3 rows on duckdb; written to stats\.binpb$/);
  // conv_rate: 0.5 and 1.5 present, one missing; color: red twice.
  expect(lines.find((l) => l.startsWith('conv_rate'))).toMatch(/^conv_rate\s+FLOAT\s+2\s+1\s+1\s+0\.5\s+0\.5\s+(0\.5|1\.5|1)\s+1\.5\s+0\s*$/);
  expect(lines.find((l) => l.startsWith('color'))).toMatch(/^color\s+STRING\s+3\s+0\s+.*2\s+red \(2\)$/);
  const written = fromBinary(tfmdV0.DatasetFeatureStatisticsListSchema, readFileSync(path.join(work, 'stats.binpb')));
  expect(written.datasets[0]!.numExamples).toBe(3n);

  const json = await larder(
    [
      'stats',
      '--offline',
      retrieval.address,
      '--view',
      'driver_stats',
      '--features',
      'color',
      '--start',
      '2024-01-01',
      '--end',
      '2024-01-02',
      '--dry-run',
      '-o',
      'json',
    ],
    work,
  );
  expect(json.code).toBe(0);
  const record = JSON.parse(json.stdout) as { rowCount: string; id?: string; statistics: { datasets: { features: { name: string }[] }[] } };
  expect([record.rowCount, record.id, record.statistics.datasets[0]!.features.map((f) => f.name)]).toEqual(['4', undefined, ['color']]);

  const listed = await larder(['stats', '--offline', retrieval.address, '--list', '--view', 'driver_stats', '-o', 'json'], work);
  expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(1);
});

it('names the bad flag or field', async () => {
  const both = await larder(['stats', '--offline', retrieval.address, '--view', 'driver_stats', '--saved-dataset', 'x'], work);
  expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('give exactly one of --view NAME, --feature-service NAME, --saved-dataset NAME')]);
  const backwards = await larder(['stats', '--offline', retrieval.address, '--view', 'driver_stats', '--start', '2024-01-02', '--end', '2024-01-01'], work);
  expect([backwards.code, backwards.stderr]).toEqual([2, expect.stringContaining('--end 2024-01-01 must be after --start 2024-01-02')]);
  const unknown = await larder(['stats', '--offline', retrieval.address, '--view', 'nope', '--start', '2024-01-01', '--end', '2024-01-02'], work);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("feature view 'nope' is not in the registry");
});
