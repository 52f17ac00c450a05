// Statistics benchmark: StatisticsService.ComputeStatistics (offline-retrieval, in this
// process, with the real registry) on DuckDB over a Parquet file of N rows x 10 features
// (5 doubles, 5 strings of 50 values), beside TFDV 1.16.1's
// generate_statistics_from_dataframe on the same file in the same run (its pandas load
// is not timed; our data is read by the engine inside the timed call, so our figure
// includes the Parquet scan TFDV is spared).
// Target (DESIGN.md): 10M x 10 <= 5 s, and >= 5x TFDV's throughput at both sizes.
//   LARDER_BENCH_STATS_SIZES (default 1000000,10000000).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DuckDBInstance } from '@duckdb/node-api';
import { registryV1, statisticsV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runInProcess, tfdvPython } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import { offlineRetrievalService } from '@larder/offline-retrieval-app';
import type { BenchRecord } from './table';

const run = promisify(execFile);
const T0 = Date.UTC(2025, 0, 1);
const NUMERIC = ['n0', 'n1', 'n2', 'n3', 'n4'];
const STRINGS = ['s0', 's1', 's2', 's3', 's4'];

async function writeParquet(file: string, rows: number): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const numeric = NUMERIC.map((name, i) => `CAST((hash(range * ${i + 7}) % 1000000) AS DOUBLE) / 1000 - 250 AS ${name}`);
  const strings = STRINGS.map((name, i) => `'value_' || (hash(range * ${i + 31}) % 50)::VARCHAR AS ${name}`);
  await connection.run(
    `COPY (SELECT make_timestamp(${T0 * 1000}::BIGINT + range * 1000000) AS event_timestamp, ${[...numeric, ...strings].join(', ')} FROM range(${rows})) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`,
  );
  connection.closeSync();
  instance.closeSync();
}

function repo(project: string, file: string): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project,
    dataSources: [{ name: 'bench_src', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: file } } }],
    featureViews: [
      {
        name: 'bench',
        entities: [],
        batchSource: 'bench_src',
        schema: [
          ...NUMERIC.map((name) => ({ name, valueType: typesV1.ValueType.DOUBLE })),
          ...STRINGS.map((name) => ({ name, valueType: typesV1.ValueType.STRING })),
        ],
      },
    ],
  });
}

export async function runStatsBenchmark(): Promise<BenchRecord[]> {
  const sizes = (process.env['LARDER_BENCH_STATS_SIZES'] ?? '1000000,10000000').split(',').map(Number);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-stats-'));
  const python = await tfdvPython();
  const records: BenchRecord[] = [];
  const lines: string[] = [];
  const registry = await runInProcess(registryService, { LARDER_LOG_LEVEL: 'warn', LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') }, lines);
  const registryClient = createClient(registryV1.RegistryService, registry.address);
  try {
    for (const rows of sizes) {
      const file = path.join(dir, `stats-${rows}.parquet`);
      await writeParquet(file, rows);
      const project = `bench${rows}`;
      await registryClient.applyRegistry(repo(project, file));
      const service = await runInProcess(
        offlineRetrievalService,
        {
          LARDER_LOG_LEVEL: 'warn',
          LARDER_REGISTRY_ADDRESS: registry.address,
          LARDER_PROJECT: project,
          LARDER_OFFLINE_STORE_TYPE: 'duckdb',
          LARDER_OFFLINE_READ_ROOTS: dir,
          LARDER_OFFLINE_WRITE_ROOT: dir,
        },
        lines,
      );
      const client = createClient(statisticsV1.StatisticsService, service.address);
      try {
        const scope = {
          project,
          kind: {
            case: 'featureView' as const,
            value: { featureView: 'bench', eventTime: { start: timestampFromMs(T0), end: timestampFromMs(T0 + rows * 1000) } },
          },
        };
        await client.computeStatistics({ scope, dryRun: true }); // warm: file metadata, code paths
        const started = process.hrtime.bigint();
        const { record } = await client.computeStatistics({ scope }, { timeoutMs: 600_000 });
        const wall = Number(process.hrtime.bigint() - started) / 1e9;
        if (record?.rowCount !== BigInt(rows)) throw new Error(`described ${record?.rowCount} rows, wanted ${rows}`);
        const tfdv = JSON.parse(
          (await run(python, [path.join(__dirname, 'python', 'tfdv_stats.py'), file], { maxBuffer: 16 * 1024 * 1024, timeout: 1_800_000 })).stdout
            .trim()
            .split('\n')
            .at(-1)!,
        ) as { wall_s: number; rows: number };
        if (tfdv.rows !== rows) throw new Error(`TFDV described ${tfdv.rows} rows, wanted ${rows}`);
        records.push({ workload: `duckdb ${rows} x 10`, wall_s: round(wall), rows_per_s: Math.round(rows / wall), vs_tfdv: round(tfdv.wall_s / wall) });
        records.push({ workload: `tfdv ${rows} x 10`, wall_s: round(tfdv.wall_s), rows_per_s: Math.round(rows / tfdv.wall_s), floor: true });
      } finally {
        client.close();
        await service.shutdown('bench over');
      }
    }
  } finally {
    registryClient.close();
    await registry.shutdown('bench over');
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
