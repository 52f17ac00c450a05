// Test harness: the real registry and materialization services in-process on
// port 0, talking gRPC; data written with the real engines. The caller hands over the two
// service definitions (a lib never imports an app): apps/materialization's testing.ts and
// apps/e2e bind them.
import { create } from '@bufbuild/protobuf';
import { DurationSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Client } from 'pg';
import { createOnlineStore } from '@larder/online-store';
import type { BatchSource, HistoricalView, SourceLocation } from '@larder/offline-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { materializationV1, registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient, RunServiceOptions, ServerConfigSchema } from '@larder/rpc';
import { onlineStoreUnderTest, runInProcess } from '@larder/testing';
import type { OnlineStoreUnderTest } from '@larder/testing';

const T = typesV1.ValueType;
export const MINUTE = 60_000;
/** Data starts here; rows spread over 240 minutes. */
export const BASE = Date.UTC(2026, 0, 1);
export const WINDOW = { start: new Date(BASE + 60 * MINUTE), end: new Date(BASE + 180 * MINUTE) };

export type OnlineUnderTest = OnlineStoreUnderTest;
export type OfflineUnderTest = { type: 'duckdb' } | { type: 'postgres'; url: string };

export interface Harness {
  readonly dir: string;
  readonly project: string;
  readonly registry: RpcClient<typeof registryV1.RegistryService>;
  readonly jobs: RpcClient<typeof materializationV1.MaterializationService>;
  readonly address: string;
  /** A store over the same backend, for the test's reads. */
  readonly store: OnlineStore;
  /** The services' log lines (JSON), at LARDER_LOG_LEVEL warn. */
  readonly logs: readonly string[];
  close(): Promise<void>;
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
    dataSources: [
      { name: 'driver_source', timestampField: 'event_timestamp', createdTimestampColumn: 'created', fieldMapping: { trips_raw: 'trips' }, kind: source },
    ],
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

// Written independently of the service's own mapping, so a mapping bug shows.
export const statsDescriptor = (project: string): ViewDescriptor => ({
  project,
  name: 'driver_stats',
  joinKeys: ['driver_id'],
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'trips', type: T.INT64 },
    { name: 'label', type: T.STRING },
  ],
});
export const flagsDescriptor = (project: string): ViewDescriptor => ({
  project,
  name: 'driver_flags',
  joinKeys: ['driver_id'],
  features: [{ name: 'active', type: T.BOOL }],
});

/** The repo's driver_source as the offline store reads it, wherever its rows were written. */
export function driverSource(location: SourceLocation): BatchSource {
  return { name: 'driver_source', location, timestampField: 'event_timestamp', createdTimestampColumn: 'created', fieldMapping: { trips_raw: 'trips' } };
}

/** A descriptor's view as a point-in-time query sees it: the reference compareWithHistorical checks the store against. */
export const historicalView = (source: BatchSource, d: ViewDescriptor, ttlMs: number): HistoricalView => ({
  name: d.name,
  source,
  joinKeys: [{ name: 'driver_id', type: T.INT64 }],
  features: d.features.map((f) => ({ name: f.name, type: f.type })),
  ttlMs,
});

export interface HarnessOptions {
  online: OnlineUnderTest;
  offline: OfflineUnderTest;
  /** The data source kind; a Parquet file in the harness folder when absent (set after start via dir). */
  source?: (dir: string, project: string) => registryV1.DataSource['kind'];
  env?: Record<string, string>;
}

/** The services a harness runs, as their apps define them. */
export interface MaterializationServices<R extends ServerConfigSchema, M extends ServerConfigSchema> {
  registry: RunServiceOptions<R>;
  materialization: RunServiceOptions<M>;
}

export async function startMaterializationHarness<R extends ServerConfigSchema, M extends ServerConfigSchema>(
  services: MaterializationServices<R, M>,
  options: HarnessOptions,
): Promise<Harness> {
  const { registry: registryService, materialization: materializationService } = services;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-materialization-'));
  const project = `p${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const base = { LARDER_LOG_LEVEL: 'warn', LARDER_SHUTDOWN_GRACE_PERIOD: '5s' };
  const registryHandle = await runInProcess(registryService, { ...base, LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') }, logs);
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  const source = options.source?.(dir, project) ?? { case: 'file', value: { path: path.join(dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET } };
  await registry.applyRegistry(repo(project, source as registryV1.DataSource['kind']));
  const onlineStore = onlineStoreUnderTest(options.online, dir);
  const offlineEnv: Record<string, string> =
    options.offline.type === 'postgres'
      ? { LARDER_OFFLINE_STORE_TYPE: 'postgres', LARDER_POSTGRES_URL: options.offline.url }
      : // DuckDB reads sources under its roots only: the harness folder, as a deployment would set it.
        { LARDER_OFFLINE_STORE_TYPE: 'duckdb', LARDER_OFFLINE_READ_ROOTS: dir, LARDER_OFFLINE_WRITE_ROOT: dir };
  const handle = await runInProcess(
    materializationService,
    { ...base, LARDER_REGISTRY_ADDRESS: registryHandle.address, ...onlineStore.env, ...offlineEnv, ...options.env },
    logs,
  );
  const store = createOnlineStore(onlineStore.config);
  const jobs = createClient(materializationV1.MaterializationService, handle.address);
  return {
    dir,
    project,
    registry,
    jobs,
    address: handle.address,
    store,
    logs,
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
