// The Python client's pytest suite (clients/python/tests) against a live store: `npm
// start` (tools/start.ts: the five services, the driver-stats quickstart applied and
// materialized) in a folder of its own, plus a second online-serving with mutual TLS and
// OIDC tokens. The client is built as a user builds it (its wheel, stubs generated from
// proto/) into the run's folder. Expected values come from the TypeScript client, so the
// two clients are compared on the same data. Returns pytest's counts for the final line.
// Alone: `npx tsx tools/test/python.ts [pytest args]`.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { offlineV1, registryV1, servingV1, typesV1 } from '@larder/proto';
import { createClient, SERVICE_NODE_FLAGS } from '@larder/rpc';
import {
  buildPythonClient,
  createTestCertificates,
  PYTHON_CLIENT_DIR,
  pythonClientPython,
  startLarderApp,
  TestIssuer,
} from '@larder/testing';
import type { TestCertificates } from '@larder/testing';

const root = path.resolve(__dirname, '..', '..');

export interface PythonTestOptions {
  /** Extra pytest arguments (a -k filter, say). */
  pytestArgs?: readonly string[];
  log?: (line: string) => void;
  /** Told each process group started, for the harness's watchdog. */
  onStart?: (pgid: number) => void;
}

export interface PythonTally {
  passed: number;
  failed: number;
}

/** Builds, starts, runs pytest, stops; never throws: a crash is one failure. */
export async function runPythonClientTests(options: PythonTestOptions = {}): Promise<PythonTally> {
  const log = options.log ?? ((line: string) => console.log(`[python] ${line}`));
  const work = await mkdtemp(path.join(os.tmpdir(), 'larder-pytest-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const began = Date.now();
    const python = await pythonClientPython();
    const site = path.join(work, 'site');
    const [, store, secure] = await Promise.all([
      buildPythonClient(python, site),
      startStore(work, options.onStart, cleanups),
      secureMaterials(work, cleanups),
    ]);
    log(`venv, wheel and store ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    const servingTls = await startLarderApp({
      app: 'online-serving',
      env: {
        LARDER_REGISTRY_ADDRESS: store.addresses['registry']!,
        LARDER_ONLINE_STORE_TYPE: 'sqlite',
        LARDER_ONLINE_STORE_PATH: path.join(store.repo, 'data', 'online_store.db'),
        LARDER_HTTP_ENABLED: 'false',
        LARDER_TLS_CERT_FILE: secure.certs.server.certFile,
        LARDER_TLS_KEY_FILE: secure.certs.server.keyFile,
        LARDER_TLS_CLIENT_CA_FILE: secure.certs.ca.certFile,
        LARDER_TLS_REQUIRE_CLIENT_CERT: 'true',
        LARDER_AUTH_MODES: 'oidc',
        LARDER_AUTH_OIDC_ISSUER: secure.issuer.issuer,
        LARDER_AUTH_OIDC_AUDIENCES: 'larder',
        LARDER_AUTH_OPERATORS: 'user:alice',
      },
    });
    cleanups.push(() => servingTls.stop(5_000));
    const expected = path.join(work, 'expected.json');
    await writeFile(expected, JSON.stringify(await expectedFromTypeScript(store.addresses, store.repo)));

    const junit = path.join(work, 'junit.xml');
    const client = await secure.certs.client('python-client');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: site,
      LARDER_TEST_REPO: store.repo,
      LARDER_TEST_EXPECTED: expected,
      LARDER_TEST_SECURE_ONLINE: servingTls.address,
      LARDER_TEST_CA_FILE: secure.certs.ca.certFile,
      LARDER_TEST_CLIENT_CERT_FILE: client.certFile,
      LARDER_TEST_CLIENT_KEY_FILE: client.keyFile,
      LARDER_TEST_TOKEN_ALICE: await secure.issuer.issue({ sub: 'alice', expiresIn: 3_600 }),
      LARDER_TEST_TOKEN_BOB: await secure.issuer.issue({ sub: 'bob', expiresIn: 3_600 }),
    };
    // Settings of the developer's shell must not leak into the client under test.
    for (const name of Object.keys(env)) if (/^LARDER_(CLIENT_|TOKEN$|REGISTRY$|ONLINE_SERVING$|OFFLINE_RETRIEVAL$|MATERIALIZATION$|INGESTION$|PROJECT$)/.test(name)) delete env[name];
    const pytestBegan = Date.now();
    const code = await runChild(python, ['-m', 'pytest', path.join(PYTHON_CLIENT_DIR, 'tests'), '-q', '-p', 'no:cacheprovider', `--junitxml=${junit}`, ...(options.pytestArgs ?? [])], { cwd: work, env }, options.onStart);
    const tally = await readJunit(junit);
    log(`pytest: ${tally.passed} passed, ${tally.failed} failed (exit ${code}) in ${((Date.now() - pytestBegan) / 1000).toFixed(1)} s`);
    if (code !== 0 && tally.failed === 0) return { passed: tally.passed, failed: 1 };
    return tally;
  } catch (error) {
    log(`FAILED before or around pytest: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { passed: 0, failed: 1 };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

interface Store {
  repo: string;
  addresses: Record<string, string>;
}

/** `npm start` on free ports with the quickstart in `work`; its larder.yaml names the ports. */
async function startStore(work: string, onStart: ((pgid: number) => void) | undefined, cleanups: (() => Promise<unknown>)[]): Promise<Store> {
  const repo = path.join(work, 'quickstart');
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', path.join(root, 'tools', 'start.ts')], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', HOME: work, LARDER_QUICKSTART: '1', LARDER_QUICKSTART_DIR: repo, LARDER_PORT_BASE: '0', LARDER_KAFKA_ENABLED: 'false' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) onStart?.(child.pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start was not ready within 120 s:\n${output}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  const addresses: Record<string, string> = {};
  const names: Record<string, string> = { registry: 'registry', 'online-serving': 'online_serving', 'offline-retrieval': 'offline_retrieval', materialization: 'materialization', ingestion: 'ingestion' };
  for (const match of output.matchAll(/^ {2}(\S+) +grpc (\S+) +metrics/gm)) {
    const name = names[match[1]!];
    if (name !== undefined) addresses[name] = match[2]!;
  }
  if (Object.keys(addresses).length !== 5) throw new Error(`npm start did not report five services:\n${output}`);
  return { repo, addresses };
}

async function secureMaterials(work: string, cleanups: (() => Promise<unknown>)[]): Promise<{ certs: TestCertificates; issuer: TestIssuer }> {
  const [certs, issuer] = await Promise.all([createTestCertificates({ dir: path.join(work, 'certs') }), TestIssuer.start()]);
  cleanups.push(() => issuer.close());
  return { certs, issuer };
}

const FEATURES = ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:acc_rate', 'driver_hourly_stats:avg_daily_trips'];

/** What the TypeScript client reads from the same store: the Python suite must read the same. */
async function expectedFromTypeScript(addresses: Record<string, string>, repo: string): Promise<unknown> {
  const serving = createClient(servingV1.OnlineServingService, addresses['online_serving']!, { defaultTimeoutMs: 30_000 });
  const offline = createClient(offlineV1.OfflineRetrievalService, addresses['offline_retrieval']!);
  const registry = createClient(registryV1.RegistryService, addresses['registry']!, { defaultTimeoutMs: 30_000 });
  try {
    const ids = [1001n, 1002n, 1003n, 1004n, 1005n, 999_999n];
    const online = await serving.getOnlineFeatures({
      project: 'driver_stats',
      kind: { case: 'features', value: { val: FEATURES } },
      entities: { driver_id: { val: ids.map((id) => ({ val: { case: 'int64Val', value: id } })) } },
    });
    const onlineColumns: Record<string, unknown[]> = {};
    online.metadata!.featureNames!.val.forEach((name, i) => {
      onlineColumns[name] = online.results[i]!.values.map(plain);
    });
    const onlineStatuses = online.results.slice(1).map((r) => r.statuses.map((s) => typesV1.FieldStatus[s]));
    // The training set of the quickstart's entity rows, read by the engine from the file.
    const rows: Record<string, unknown>[] = [];
    let columns: string[] = [];
    for await (const message of offline.getHistoricalFeaturesFromSource({
      query: { project: 'driver_stats', kind: { case: 'features', value: { val: FEATURES } } },
      entitySource: { location: { case: 'file', value: { path: path.join(repo, 'data', 'entity_rows.csv'), format: registryV1.FileFormat.CSV } } },
    })) {
      if (message.part.case === 'schema') columns = message.part.value.columns.map((c) => c.name);
      if (message.part.case === 'chunk') {
        const chunk = message.part.value;
        chunk.eventTimestamps.forEach((ts, i) => {
          const row: Record<string, unknown> = { event_timestamp: Number(ts.seconds) };
          columns.forEach((name, c) => (row[name] = plain(chunk.columns[c]!.val[i]!)));
          rows.push(row);
        });
      }
    }
    const views = (await registry.listFeatureViews({ project: 'driver_stats' })).featureViews.map((v) => v.name).sort();
    return { online: onlineColumns, onlineStatuses, historical: rows, views, at: Number(timestampFromMs(Date.now()).seconds) };
  } finally {
    serving.close();
    offline.close();
    registry.close();
  }
}

function plain(value: typesV1.Value): unknown {
  const v = value.val;
  if (v.case === undefined || v.case === 'nullVal') return null;
  if (typeof v.value === 'bigint') return Number(v.value);
  if (typeof v.value === 'object' && v.value !== null && 'val' in v.value) return (v.value.val as unknown[]).map((x) => (typeof x === 'bigint' ? Number(x) : x));
  return v.value;
}

function runChild(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, onStart?: (pgid: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    if (child.pid !== undefined) onStart?.(child.pid);
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 129)));
  });
}

/** passed = tests - failures - errors - skipped; skipped ones count as failed (no test may be skipped). */
async function readJunit(file: string): Promise<PythonTally> {
  let xml: string;
  try {
    xml = await readFile(file, 'utf8');
  } catch {
    return { passed: 0, failed: 1 };
  }
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const count = (name: string): number => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const tests = count('tests');
  const failed = count('failures') + count('errors') + count('skipped');
  return { passed: tests - failed, failed };
}

if (require.main === module) {
  void runPythonClientTests({ pytestArgs: process.argv.slice(2) }).then((tally) => {
    console.log(`${tally.passed} passed, ${tally.failed} failed`);
    process.exit(tally.failed > 0 ? 1 : 0);
  });
}
