// Test harness: the real registry and materialization services in-process on
// port 0, talking gRPC; data written with the real engines.
import { create } from '@bufbuild/protobuf';
import { DurationSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Client } from 'pg';
import { registryService } from '../../registry/src/service';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore, OnlineStoreConfig } from '@larder/online-store';
import { materializationV1, registryV1, typesV1 } from '@larder/proto';
import { createClient, runService } from '@larder/rpc';
import type { RpcClient, RunServiceOptions, ServerConfigSchema, ServerHandle } from '@larder/rpc';
import { materializationService } from './service';

const T = typesV1.ValueType;
export const MINUTE = 60_000;
/** Data starts here; rows spread over 240 minutes. */
export const BASE = Date.UTC(2026, 0, 1);
export const WINDOW = { start: new Date(BASE + 60 * MINUTE), end: new Date(BASE + 180 * MINUTE) };

export type OnlineUnderTest = { type: 'sqlite' } | { type: 'redis'; url: string; layout: 'packed' | 'feast' };
export type OfflineUnderTest = { type: 'duckdb' } | { type: 'postgres'; url: string };

export interface Harness {
  readonly dir: string;
  readonly project: string;
  readonly registry: RpcClient<typeof registryV1.RegistryService>;
  readonly jobs: RpcClient<typeof materializationV1.MaterializationService>;
  readonly address: string;
  /** A store over the same backend, for the test's reads. */
  readonly store: OnlineStore;
  close(): Promise<void>;
}

async function quietly<S extends ServerConfigSchema>(options: RunServiceOptions<S>, lines: string[]): Promise<ServerHandle> {
  let exit: number | undefined;
  const handle = await runService({ ...options, argv: [], handleSignals: false, write: (line) => void lines.push(line), exit: (code) => void (exit = code) });
  if (handle === undefined) throw new Error(`${options.name} did not start (exit ${exit}):\n${lines.join('\n')}`);
  return handle;
}

/**
 * Source rows: row i is driver i % drivers, event time BASE + (i*37 % 240) min,
 * created BASE + i s (so ties on event time are broken by created), a null
 * conv_rate every 11th row. The trips column is stored as `trips_raw` and
 * renamed by the source's field mapping.
 */
export function sourceSql(rows: number, drivers: number): string {
  return `SELECT (i % ${drivers})::BIGINT AS driver_id,
    TIMESTAMP '2026-01-01 00:00:00' + to_minutes(((i * 37) % 240)::BIGINT) AS event_timestamp,
    TIMESTAMP '2026-01-01 00:00:00' + to_seconds(i::BIGINT) AS created,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 0.5)::DOUBLE END AS conv_rate,
    i::BIGINT AS trips_raw,
    'label-' || i::VARCHAR AS label,
    (i % 3 = 0) AS active
  FROM range(0, ${rows}) t(i)`;
}

export async function writeParquet(file: string, rows: number, drivers: number): Promise<void> {
  const db = await DuckDBInstance.create();
  const connection = await db.connect();
  await connection.run(`COPY (${sourceSql(rows, drivers)}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  connection.closeSync();
}

export async function writePostgresTable(url: string, table: string, rows: number, drivers: number): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} AS SELECT (i % ${drivers})::bigint AS driver_id,
      timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => ((i * 37) % 240)::int) AS event_timestamp,
      timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i) AS created,
      CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 0.5)::double precision END AS conv_rate,
      i::bigint AS trips_raw, 'label-' || i AS label, (i % 3 = 0) AS active
      FROM generate_series(0, ${rows - 1}) AS g(i)`);
  } finally {
    await client.end();
  }
}

/** The repo: driver_stats (ttl 120 min), driver_flags (no ttl), offline_only (online: false). */
export function repo(project: string, source: registryV1.DataSource['kind']): Omit<registryV1.ApplyRegistryRequest, '$typeName' | '$unknown'> {
  const r = create(registryV1.ApplyRegistryRequestSchema, {
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [{ name: 'driver_source', timestampField: 'event_timestamp', createdTimestampColumn: 'created', fieldMapping: { trips_raw: 'trips' }, kind: source }],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'driver_source',
        ttl: create(DurationSchema, { seconds: 7200n }),
        schema: [
          { name: 'conv_rate', valueType: T.DOUBLE },
          { name: 'trips', valueType: T.INT64 },
          { name: 'label', valueType: T.STRING },
        ],
      },
      { name: 'driver_flags', entities: ['driver'], batchSource: 'driver_source', schema: [{ name: 'active', valueType: T.BOOL }] },
      { name: 'offline_only', entities: ['driver'], batchSource: 'driver_source', online: false, schema: [{ name: 'trips', valueType: T.INT64 }] },
    ],
  });
  const { $typeName: _t, $unknown: _u, ...rest } = r as typeof r & { $unknown?: unknown };
  return rest;
}

export interface HarnessOptions {
  online: OnlineUnderTest;
  offline: OfflineUnderTest;
  /** The data source kind; a Parquet file in the harness folder when absent (set after start via dir). */
  source?: (dir: string, project: string) => registryV1.DataSource['kind'];
  env?: Record<string, string>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-materialization-'));
  const project = `p${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const base = { LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_ENABLED: 'false', LARDER_LOG_LEVEL: 'warn', LARDER_SHUTDOWN_GRACE_PERIOD: '5s' };
  const registryHandle = await quietly({ ...registryService, env: { ...base, LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') } }, logs);
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  const source = options.source?.(dir, project) ?? { case: 'file', value: { path: path.join(dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET } };
  await registry.applyRegistry(repo(project, source as registryV1.DataSource['kind']));
  const online = options.online;
  const storeEnv: Record<string, string> =
    online.type === 'sqlite'
      ? { LARDER_ONLINE_STORE_TYPE: 'sqlite', LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db') }
      : { LARDER_ONLINE_STORE_TYPE: 'redis', LARDER_REDIS_URL: online.url, LARDER_REDIS_LAYOUT: online.layout };
  const offlineEnv: Record<string, string> =
    options.offline.type === 'postgres' ? { LARDER_OFFLINE_STORE_TYPE: 'postgres', LARDER_POSTGRES_URL: options.offline.url } : { LARDER_OFFLINE_STORE_TYPE: 'duckdb' };
  const handle = await quietly(
    { ...materializationService, env: { ...base, LARDER_REGISTRY_ADDRESS: registryHandle.address, ...storeEnv, ...offlineEnv, ...options.env } },
    logs,
  );
  const storeConfig: OnlineStoreConfig = online.type === 'sqlite' ? { type: 'sqlite', path: path.join(dir, 'online.db') } : { type: 'redis', url: online.url, layout: online.layout };
  const store = createOnlineStore(storeConfig);
  const jobs = createClient(materializationV1.MaterializationService, handle.address);
  return {
    dir,
    project,
    registry,
    jobs,
    address: handle.address,
    store,
    close: async () => {
      jobs.close();
      registry.close();
      await handle.shutdown('test over');
      await registryHandle.shutdown('test over');
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Follows a job over WatchJob until it is final; `onUpdate` sees every snapshot. */
export async function watchToEnd(
  jobs: RpcClient<typeof materializationV1.MaterializationService>,
  jobId: string,
  onUpdate: (job: materializationV1.Job) => void | Promise<void> = () => {},
): Promise<materializationV1.Job> {
  let last: materializationV1.Job | undefined;
  for await (const update of jobs.watchJob({ jobId }, { timeoutMs: 120_000 })) {
    last = update.job!;
    await onUpdate(last);
  }
  if (!last) throw new Error('WatchJob sent nothing');
  return last;
}

export const ts = (date: Date) => timestampFromDate(date);
