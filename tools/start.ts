// `npm start`: the whole store on one machine, in one process, on the
// embedded defaults. Each service keeps its own port, metrics endpoint and
// health, exactly as when it runs alone in its own pod.
//
// It also sets up the quickstart: the driver-stats example repo in
// ~/.larder/quickstart (or $LARDER_QUICKSTART_DIR; LARDER_QUICKSTART=0 skips
// it), whose registry file and SQLite online store are the ones the services
// use; once they listen, the repo is applied and its sample data materialized.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { applyRequestOf, CONFIG_FILE, initRepo, loadFeatureRepo } from '@larder/feature-repo';
import { materializationV1, registryV1 } from '@larder/proto';
import { createClient, runService } from '@larder/rpc';
import type { RunServiceOptions, ServerConfigSchema, ServerHandle, ShutdownResult } from '@larder/rpc';
import { ingestionService } from '@larder/ingestion-app';
import { materializationService } from '@larder/materialization-app';
import { offlineRetrievalService } from '@larder/offline-retrieval-app';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';
import { buildUi, startUiServer } from '@larder/ui';
import type { UiServer } from '@larder/ui';
import { PortSettingError, serviceEnv, uiEnv } from './start-ports';
import type { StartService } from './start-ports';

const QUICKSTART_DIR = path.resolve(process.env.LARDER_QUICKSTART_DIR ?? path.join(os.homedir(), '.larder', 'quickstart'));
const QUICKSTART = process.env.LARDER_QUICKSTART !== '0';

// The quickstart repo talks to the services below; its data files are theirs.
const QUICKSTART_HEADER = '# Written by `npm start`: the driver-stats quickstart, served by the services it runs.';
const DEFAULT_ADDRESSES = {
  registry: '127.0.0.1:6570',
  online_serving: '127.0.0.1:6566',
  offline_retrieval: '127.0.0.1:6571',
  materialization: '127.0.0.1:6572',
  ingestion: '127.0.0.1:6573',
};
type Addresses = typeof DEFAULT_ADDRESSES;

const quickstartConfig = (addresses: Addresses): string => `${QUICKSTART_HEADER}
project: driver_stats
registry:
  address: ${addresses.registry}
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: duckdb
services:
  registry: ${addresses.registry}
  online_serving: ${addresses.online_serving}
  offline_retrieval: ${addresses.offline_retrieval}
  materialization: ${addresses.materialization}
  ingestion: ${addresses.ingestion}
`;

/**
 * With LARDER_GRPC_PORT=0 (tests) the services listen on free ports: while
 * larder.yaml is still ours (it keeps our header line), point it at them.
 */
function updateQuickstartConfig(addresses: Addresses): void {
  const file = path.join(QUICKSTART_DIR, CONFIG_FILE);
  const current = readFileSync(file, 'utf8');
  const wanted = quickstartConfig(addresses);
  if (current.startsWith(QUICKSTART_HEADER) && current !== wanted) writeFileSync(file, wanted);
}

/** Defaults pointing every service at the quickstart's files; the caller's environment still wins. */
function quickstartEnv(): Record<string, string> {
  if (!QUICKSTART) return {};
  return {
    LARDER_REGISTRY_LOCATION: path.join(QUICKSTART_DIR, 'data', 'registry.json'),
    LARDER_ONLINE_STORE_TYPE: 'sqlite',
    LARDER_ONLINE_STORE_PATH: path.join(QUICKSTART_DIR, 'data', 'online_store.db'),
    // DuckDB reads and writes files under the quickstart repo only: its sample data and
    // entity rows, and the training sets the README writes there (`--out training.parquet`).
    LARDER_OFFLINE_READ_ROOTS: QUICKSTART_DIR,
    LARDER_OFFLINE_WRITE_ROOT: QUICKSTART_DIR,
    // Statistics outlive a restart, as the registry and the online store do: the web UI
    // draws them (data quality) and drift compares each span with the one before.
    LARDER_STATISTICS_DIR: path.join(QUICKSTART_DIR, 'data', 'statistics'),
  };
}

// Each service has its own configuration schema, so each gets its own runner, and its
// own ports (start-ports.ts): the services share the names of their settings.
type Runner = (extra: { handleSignals: false; exit: (code: number) => void; env: Record<string, string | undefined> }) => Promise<ServerHandle | undefined>;
const runner =
  <S extends ServerConfigSchema>(service: RunServiceOptions<S>): Runner =>
  (extra) =>
    runService({ ...service, ...extra, env: serviceEnv(service.name as StartService, extra.env) });
const services: Runner[] = [
  runner(registryService),
  runner(onlineServingService),
  runner(offlineRetrievalService),
  runner(materializationService),
  runner(ingestionService),
];

/**
 * Entity rows for a first training set (README): drivers at moments within the
 * sample's 15 days, each with a label, as a model's training events would be.
 */
function writeEntityRows(file: string, sampleEnd: Date): void {
  const at = (hoursBefore: number): string => new Date(sampleEnd.getTime() - hoursBefore * 3_600_000).toISOString().replace('.000Z', 'Z');
  const rows = [
    [1001, at(1.5), 1],
    [1002, at(2.5), 0],
    [1003, at(26), 1],
    [1004, at(7 * 24 + 0.25), 0],
    [1005, at(13 * 24 + 0.75), 1],
    [1001, at(14 * 24 + 0.5), 0],
  ];
  writeFileSync(file, ['driver_id,event_timestamp,trip_completed', ...rows.map((r) => r.join(','))].join('\n') + '\n');
}

async function prepareQuickstart(): Promise<void> {
  if (existsSync(path.join(QUICKSTART_DIR, CONFIG_FILE))) return;
  const sampleEnd = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  const created = await initRepo(QUICKSTART_DIR, { data: { end: sampleEnd } });
  writeEntityRows(path.join(QUICKSTART_DIR, 'data', 'entity_rows.csv'), sampleEnd);
  writeFileSync(path.join(QUICKSTART_DIR, CONFIG_FILE), quickstartConfig(DEFAULT_ADDRESSES));
  process.stderr.write(`Created the quickstart feature repo in ${QUICKSTART_DIR} (${created.sampleRows} sample rows).\n`);
}

/** Applies the quickstart repo and materializes all of its sample data; returns what to tell the user. */
async function applyAndMaterialize(registryAddress: string, materializationAddress: string): Promise<string> {
  const { config, set } = await loadFeatureRepo(QUICKSTART_DIR);
  const registry = createClient(registryV1.RegistryService, registryAddress, { defaultTimeoutMs: 30_000 });
  const jobs = createClient(materializationV1.MaterializationService, materializationAddress);
  try {
    const applied = await registry.applyRegistry(applyRequestOf({ config, set }, { prune: true }));
    // The materialization service follows the registry's change stream; give it the new version.
    let job: materializationV1.Job | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        // The whole sample (from the epoch to now): the latest row of every driver.
        job = (await jobs.materialize({ project: config.project, startTime: timestampFromDate(new Date(0)), endTime: timestampFromDate(new Date()) })).job!;
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    for await (const update of jobs.watchJob({ jobId: job.id })) job = update.job!;
    if (job.state !== materializationV1.JobState.SUCCEEDED)
      throw new Error(`materialization job ${job.id} ${materializationV1.JobState[job.state]}: ${job.error}`);
    const views = job.views.map((v) => `${v.featureView} (${v.rowsWritten} rows)`).join(', ');
    return [
      `Quickstart: feature repo ${QUICKSTART_DIR}, project ${config.project}, registry version ${applied.version}.`,
      `  materialized into ${path.join(QUICKSTART_DIR, 'data', 'online_store.db')}: ${views}`,
      `  try: npx larder get-online-features --repo ${QUICKSTART_DIR} --entity driver_id=1001 --features driver_hourly_stats:conv_rate`,
    ].join('\n');
  } finally {
    registry.close();
    jobs.close();
  }
}

/** A listening address as a client dials it. */
const local = (address: string): string => address.replace(/^0\.0\.0\.0:/, '127.0.0.1:');

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = { ...quickstartEnv(), ...process.env };
  try {
    for (const service of ['registry', 'online-serving', 'offline-retrieval', 'materialization', 'ingestion'] as const) serviceEnv(service, env);
    uiEnv(env);
  } catch (error) {
    if (!(error instanceof PortSettingError)) throw error;
    process.stderr.write(`npm start: ${error.message}\n`);
    process.exit(2);
  }
  if (QUICKSTART) await prepareQuickstart();
  const handles: ServerHandle[] = [];
  let exitCode = 0;
  const fail = (code: number): void => {
    exitCode = Math.max(exitCode, code);
  };
  for (const service of services) {
    const handle = await service({ handleSignals: false, exit: fail, env });
    if (handle === undefined) {
      await Promise.all(handles.map((h) => h.shutdown('startup failed')));
      process.exit(exitCode || 1);
    }
    handles.push(handle);
    // The others find the registry where it really listens (a free port when LARDER_GRPC_PORT=0).
    if (handle.name === 'registry' && process.env.LARDER_REGISTRY_ADDRESS === undefined) env.LARDER_REGISTRY_ADDRESS = local(handle.address);
  }

  let quickstart = '';
  if (QUICKSTART) {
    const address = (name: string): string => local(handles.find((h) => h.name === name)!.address);
    try {
      updateQuickstartConfig({
        registry: address('registry'),
        online_serving: address('online-serving'),
        offline_retrieval: address('offline-retrieval'),
        materialization: address('materialization'),
        ingestion: address('ingestion'),
      });
      quickstart = await applyAndMaterialize(address('registry'), address('materialization'));
    } catch (error) {
      // The services are up either way; say what went wrong and keep serving.
      quickstart = `Quickstart not ready: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  const ui = await startUi(env, handles);

  // The addresses the sockets are bound to (a wildcard bind shows as one), not where a client dials.
  const rows = handles.map(
    (h) =>
      `  ${h.name.padEnd(18)} grpc ${h.boundAddress.padEnd(16)} metrics ${h.metricsBoundUrl ?? '-'}${h.extraPorts.map((p) => ` ${p.name} ${p.boundAddress}`).join('')}`,
  );
  const uiLine = 'listening' in ui ? `Web UI: ${ui.listening.url} (bound ${ui.listening.bound})` : `Web UI not started: ${ui.problem}`;
  process.stderr.write(`\nLarder is running. Services:\n${rows.join('\n')}\n${uiLine}\n${quickstart ? `${quickstart}\n` : ''}Press Ctrl-C to stop.\n\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    const uiClosed = 'listening' in ui ? ui.close() : Promise.resolve();
    void Promise.all([...handles.map((h) => h.shutdown(signal)), uiClosed]).then(([...all]) => {
      const results = all.slice(0, handles.length) as ShutdownResult[];
      const bad = results.some((r) => r.forced || r.errors.length > 0);
      process.exit(bad ? 1 : exitCode);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * The web UI (apps/ui) beside the services, built at each start so it always matches
 * this checkout (esbuild takes a fraction of a second). A UI that cannot start is reported, and the store keeps serving without it.
 */
async function startUi(env: Record<string, string | undefined>, handles: readonly ServerHandle[]): Promise<UiServer | { problem: string }> {
  const address = (name: string): string => local(handles.find((h) => h.name === name)!.address);
  // Each npm start builds into a folder of its own: stores started side by side (tests)
  // never read a build another one is rewriting.
  const dist = mkdtempSync(path.join(os.tmpdir(), 'larder-ui-'));
  process.once('exit', () => rmSync(dist, { recursive: true, force: true }));
  try {
    await buildUi(dist);
    return await startUiServer({
      env: uiEnv({
        ...env,
        LARDER_UI_DIST: dist,
        LARDER_REGISTRY_ADDRESS: address('registry'),
        LARDER_MATERIALIZATION_ADDRESS: address('materialization'),
        LARDER_INGESTION_ADDRESS: address('ingestion'),
        LARDER_OFFLINE_RETRIEVAL_ADDRESS: address('offline-retrieval'),
      }),
    });
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

void main();
