import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestCertificates } from '@larder/testing';
import { LARDER_APPS, startApp } from './apps';
import type { LarderApp, RunningApp } from './apps';
import { runGoClient, runPythonClient } from './clients';
import type { ClientRecord } from './clients';
import { declaredServices } from './contracts';
import { applyClientRepo, startClientJob } from './repo';
import { buildGoClient, generateStubs } from './generate';
import type { GeneratedStubs } from './generate';
import { setupToolchain } from './toolchain';
import type { Toolchain } from './toolchain';

/** Checks one rpc answer; throws (a jest expectation failure) when it is wrong. */
export type AnswerCheck = (record: ClientRecord) => void;

export interface PolyglotSuiteOptions {
  /** `<service>/<method>` -> what that rpc must answer, for every rpc the clients call. */
  expectedAnswers: Readonly<Record<string, AnswerCheck>>;
  /** Where apps/<name>/src/main.ts are; the repo's apps/ by default. */
  appsDir?: string;
}

/** An rpc that is built: OK, and a response that `check` accepts (its JSON form). */
export function answersOk(check: (response: unknown) => void = () => undefined): AnswerCheck {
  return (record) => {
    expect({ code: record.code, message: record.message }).toEqual({ code: 'OK', message: '' });
    check(record.response);
  };
}

const LANGUAGES = ['python', 'go'] as const;
const SETUP_TIMEOUT_MS = 600_000;
const STOP_GRACE_MS = 5_000;

/**
 * Starts the five apps, generates Python and Go stubs from proto/, runs a client in
 * each language against every app, and checks what they saw.
 */
export function describePolyglot(options: PolyglotSuiteOptions): void {
  describe('clients in other languages, with stubs generated from proto/', () => {
    let workDir = '';
    let apps: RunningApp[] = [];
    let stubs: GeneratedStubs;
    let toolchain: Toolchain;
    let records: ClientRecord[] = [];

    beforeAll(async () => {
      workDir = await mkdtemp(path.join(os.tmpdir(), 'larder-e2e-'));
      const starting = startApps(options, workDir);
      const building = (async () => {
        toolchain = await setupToolchain();
        stubs = await generateStubs(toolchain, path.join(workDir, 'stubs'));
        const goClient = await buildGoClient(toolchain, stubs, workDir);
        return { goClient };
      })();
      // Awaited below unless the apps fail first; then their error is the one to show.
      building.catch(() => undefined);
      const started = await starting;
      apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      const failed = started.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
      if (failed.length > 0) throw new Error(`apps did not start:\n${failed.join('\n\n')}`);
      const { goClient } = await building;
      const targets = apps.map(({ service, address }) => ({ service, address }));
      const [python, go] = await Promise.all([runPythonClient(toolchain, stubs.pythonDir, targets), runGoClient(goClient, targets)]);
      records = [...python, ...go];
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      // Whatever the stop test left running (or never reached) goes now.
      await Promise.all(apps.map((app) => app.stop(1_000)));
      if (workDir !== '') await rm(workDir, { recursive: true, force: true });
    });

    function recordsOf(check: ClientRecord['check'], client: string, app: RunningApp): ClientRecord[] {
      return records.filter((r) => r.check === check && r.client === client && r.address === app.address);
    }

    it('generates Python and Go stubs for every file in proto/', async () => {
      const larderFiles = stubs.protoFiles.filter((file) => file.startsWith('larder/'));
      const domains = new Set(larderFiles.map((file) => file.split('/')[1]));
      expect([...domains].sort()).toEqual(['ingestion', 'materialization', 'offline', 'registry', 'serving', 'statistics', 'types']);
      const python = await filesUnder(stubs.pythonDir);
      const go = await filesUnder(stubs.goDir);
      for (const file of stubs.protoFiles) {
        const base = file.startsWith('grpc/') ? file.slice('grpc/'.length) : file;
        expect(python).toContain(base.replace(/\.proto$/, '_pb2.py'));
        const name = path.posix.basename(file, '.proto');
        expect(go.some((generated) => generated.endsWith(`/${name}.pb.go`))).toBe(true);
      }
    });

    it('every health check, for the server and for its service, answers SERVING', () => {
      const problems: string[] = [];
      for (const client of LANGUAGES) {
        for (const app of apps) {
          for (const name of ['', app.service]) {
            const found = recordsOf('health', client, app).filter((r) => r.service === name);
            const seen = found.map((r) => `${r.code} ${r.status ?? r.message}`);
            if (seen.length !== 1 || seen[0] !== 'OK SERVING') {
              problems.push(`${client} -> ${app.name} health '${name}': ${JSON.stringify(seen)}`);
            }
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('reflection lists every larder service and describes each as proto/ declares it', async () => {
      const declared = await declaredServices(stubs.protoFiles);
      const larderServices = LARDER_APPS.flatMap((app) => servedBy(app)).sort();
      const problems: string[] = [];
      for (const client of LANGUAGES) {
        const listedLarder = new Set<string>();
        for (const app of apps) {
          const found = recordsOf('reflection', client, app);
          const [reflection] = found;
          if (reflection === undefined || found.length !== 1) {
            problems.push(`${client} -> ${app.name}: ${found.length} reflection answers`);
            continue;
          }
          if (reflection.code !== 'OK' || reflection.message !== '') {
            problems.push(`${client} -> ${app.name} reflection: ${reflection.code} ${reflection.message}`);
          }
          const listed = reflection.services ?? [];
          for (const required of [...servedBy(app), 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']) {
            if (!listed.includes(required)) problems.push(`${client} -> ${app.name} does not list ${required}`);
          }
          listed.filter((name) => name.startsWith('larder.')).forEach((name) => listedLarder.add(name));
          const methods = JSON.stringify(reflection.methods ?? null);
          const expected = JSON.stringify(declared.get(app.service) ?? []);
          if (methods !== expected) problems.push(`${client} -> ${app.name} describes ${methods}, proto/ declares ${expected}`);
        }
        const union = [...listedLarder].sort();
        if (JSON.stringify(union) !== JSON.stringify(larderServices)) {
          problems.push(`${client}: larder services listed ${JSON.stringify(union)}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it("every larder rpc, called through the generated stubs, gets our handler's answer", () => {
      const problems: string[] = [];
      for (const app of apps) {
        const methods = new Set<string>();
        for (const client of LANGUAGES) {
          const calls = recordsOf('rpc', client, app);
          const [call] = calls;
          if (call === undefined || calls.length !== 1) {
            problems.push(`${client} -> ${app.name}: ${calls.length} rpc answers`);
            continue;
          }
          const method = call.method ?? `(${call.code}: ${call.message})`;
          methods.add(method);
          const check = options.expectedAnswers[method];
          if (!method.startsWith(`${app.service}/`) || check === undefined) {
            problems.push(`${client} -> ${app.name}: called ${method}, which expectedAnswers does not cover`);
            continue;
          }
          try {
            check(call);
          } catch (error) {
            problems.push(`${client} -> ${method}: ${call.code} ${JSON.stringify(call.message)}\n${String(error)}`);
          }
        }
        // Both languages exercise the same rpc, so the table has one row per service.
        if (methods.size > 1) problems.push(`${app.name}: the clients called different rpcs ${[...methods].join(', ')}`);
      }
      expect(problems).toEqual([]);
    });

    it('a Python stub reaches a TLS registry with the CA bundle (and a client certificate for mTLS); without the CA it cannot', async () => {
      const certs = await createTestCertificates({ dir: path.join(workDir, 'certs') });
      const client = await certs.client('python-client');
      const registryApp = LARDER_APPS[0] as LarderApp;
      const tlsRegistry = await startApp(registryApp, {
        ...withAppsDir(options),
        env: {
          LARDER_REGISTRY_LOCATION: path.join(workDir, 'tls-registry.json'),
          LARDER_TLS_CERT_FILE: certs.server.certFile,
          LARDER_TLS_KEY_FILE: certs.server.keyFile,
          LARDER_TLS_CLIENT_CA_FILE: certs.ca.certFile,
          LARDER_TLS_REQUIRE_CLIENT_CERT: 'true',
        },
      });
      try {
        const target = [{ service: registryApp.service, address: tlsRegistry.address }];
        const summary = (found: ClientRecord[]) => found.map((r) => `${r.check} ${r.code}${r.status === undefined ? '' : ` ${r.status}`}`);
        const withCa = await runPythonClient(toolchain, stubs.pythonDir, target, { ca: certs.ca.certFile, cert: client.certFile, key: client.keyFile });
        expect(summary(withCa)).toEqual(['health OK SERVING', 'health OK SERVING', 'reflection OK', 'rpc OK']);
        expect(withCa.find((r) => r.check === 'rpc')?.method).toBe('larder.registry.v1.RegistryService/GetRegistryVersion');
        // Without a client certificate the registry refuses the handshake; without the CA (plaintext) nothing connects.
        const noCert = await runPythonClient(toolchain, stubs.pythonDir, target, { ca: certs.ca.certFile });
        expect(summary(noCert)).toEqual(['health UNAVAILABLE', 'health UNAVAILABLE', 'reflection UNAVAILABLE', 'rpc UNAVAILABLE']);
        const plaintext = await runPythonClient(toolchain, stubs.pythonDir, target);
        expect(summary(plaintext)).toEqual(['health UNAVAILABLE', 'health UNAVAILABLE', 'reflection UNAVAILABLE', 'rpc UNAVAILABLE']);
      } finally {
        await tlsRegistry.stop(STOP_GRACE_MS);
      }
    });

    it('each app exits 0 within a few seconds of SIGTERM', async () => {
      const exits = await Promise.all(apps.map(async (app) => ({ app: app.name, ...(await app.stop(STOP_GRACE_MS)) })));
      const wrong = exits.filter((exit) => exit.code !== 0 || exit.signal !== null || exit.elapsedMs >= STOP_GRACE_MS);
      const shown = wrong.map((exit) => {
        const tail =
          apps
            .find((app) => app.name === exit.app)
            ?.output.slice(-10)
            .join('\n') ?? '';
        return `${exit.app}: code ${exit.code}, signal ${exit.signal}, after ${exit.elapsedMs} ms\n${tail}`;
      });
      expect(shown).toEqual([]);
      expect(exits).toHaveLength(LARDER_APPS.length);
    });
  });
}

/** The registry first, with the clients' definitions applied, then the other apps pointed at it. */
async function startApps(options: PolyglotSuiteOptions, workDir: string): Promise<PromiseSettledResult<RunningApp>[]> {
  const [registryApp, ...others] = LARDER_APPS as [LarderApp, ...LarderApp[]];
  let registry: RunningApp;
  try {
    registry = await startApp(registryApp, withAppsDir(options));
    await applyClientRepo(registry.address);
  } catch (reason) {
    return [{ status: 'rejected', reason }];
  }
  const env = { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_ONLINE_STORE_PATH: path.join(workDir, 'online.db'), LARDER_HTTP_PORT: '0' };
  const rest = await Promise.allSettled(others.map((app) => startApp(app, { ...withAppsDir(options), env })));
  const materialization = rest.find((r) => r.status === 'fulfilled' && r.value.name === 'materialization');
  if (materialization?.status === 'fulfilled') {
    try {
      await startClientJob(materialization.value.address);
    } catch (reason) {
      return [{ status: 'fulfilled', value: registry }, ...rest, { status: 'rejected', reason }];
    }
  }
  return [{ status: 'fulfilled', value: registry }, ...rest];
}

function withAppsDir(options: PolyglotSuiteOptions): { appsDir?: string } {
  return options.appsDir === undefined ? {} : { appsDir: options.appsDir };
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

function servedBy(app: LarderApp): string[] {
  return [app.service, ...(app.alsoServes ?? [])];
}
