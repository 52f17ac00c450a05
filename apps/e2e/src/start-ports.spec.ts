// Two `npm start`s side by side (tools/start.ts as package.json's start script runs it),
// moved off the default ports with LARDER_PORT_BASE and a per-service variable: each
// service of each store answers on its own ports, and neither store sees the other.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { healthV1, registryV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { NpmStarts } from './npm-start';

jest.setTimeout(180_000);

const SERVICES = ['online-serving', 'registry', 'offline-retrieval', 'materialization', 'ingestion'] as const;
// As tools/start-ports.ts documents them: gRPC, metrics and HTTP offsets from the base.
const GRPC = { 'online-serving': 0, registry: 4, 'offline-retrieval': 5, materialization: 6, ingestion: 7 } as const;
const METRICS = { 'online-serving': 10, registry: 14, 'offline-retrieval': 15, materialization: 16, ingestion: 17 } as const;

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-start-ports-'));
const stores = new NpmStarts();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base whose 18 ports (and `extra`) are free now, away from the defaults and from `avoid`. */
async function freeBase(avoid: readonly number[]): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 1_500) * 20;
    if (avoid.some((a) => Math.abs(a - base) < 40)) continue;
    const ports = Array.from({ length: 20 }, (_, i) => base + i);
    if ((await Promise.all(ports.map(bindable))).every(Boolean)) return base;
  }
}

async function startStore(name: string, env: Record<string, string>): Promise<string> {
  return (
    await stores.start(name, path.join(work, name), { LARDER_GRPC_HOST: '127.0.0.1', LARDER_METRICS_HOST: '127.0.0.1', LARDER_LOG_LEVEL: 'warn', ...env })
  ).log;
}

async function serving(address: string): Promise<string> {
  const client = createClient(healthV1.Health, address);
  try {
    return healthV1.HealthCheckResponse_ServingStatus[(await client.check({ service: '' }, { timeoutMs: 5_000 })).status] as string;
  } finally {
    client.close();
  }
}

afterAll(async () => {
  await stores.stopAll();
  rmSync(work, { recursive: true, force: true });
});

test('two npm starts run side by side, each service on its own ports from LARDER_PORT_BASE or its own variable', async () => {
  const a = await freeBase([]);
  const b = await freeBase([a]);
  // Store b moves its registry with a per-service variable, onto a port outside its range.
  const ownRegistry = b + 19;
  const [logA, logB] = await Promise.all([
    startStore('a', { LARDER_PORT_BASE: String(a) }),
    startStore('b', { LARDER_PORT_BASE: String(b), LARDER_REGISTRY_GRPC_PORT: String(ownRegistry) }),
  ]);
  for (const [base, log] of [
    [a, logA],
    [b, logB],
  ] as const) {
    for (const service of SERVICES) {
      const grpc = service === 'registry' && base === b ? ownRegistry : base + GRPC[service];
      expect(log).toMatch(new RegExp(`${service} +grpc 127\\.0\\.0\\.1:${grpc} +metrics http://127\\.0\\.0\\.1:${base + METRICS[service]}`));
      expect([service, grpc, await serving(`127.0.0.1:${grpc}`)]).toEqual([service, grpc, 'SERVING']);
      const ready = await fetch(`http://127.0.0.1:${base + METRICS[service]}/readyz`);
      expect([service, ready.status]).toEqual([service, 200]);
    }
    // The HTTP endpoints move with the base too.
    expect((await fetch(`http://127.0.0.1:${base + 1}/health`)).status).toBe(200);
  }
  // Each store's services found their own registry: an apply to one is not in the other.
  const registryA = createClient(registryV1.RegistryService, `127.0.0.1:${a + GRPC.registry}`);
  const registryB = createClient(registryV1.RegistryService, `127.0.0.1:${ownRegistry}`);
  try {
    await registryA.applyRegistry({ project: 'only_in_a' });
    expect((await registryA.listProjects({})).projects.map((p) => p.name)).toEqual(['only_in_a']);
    expect((await registryB.listProjects({})).projects).toEqual([]);
  } finally {
    registryA.close();
    registryB.close();
  }
});

test('a bad port setting stops npm start with the variable named', async () => {
  const failed = await startStore('bad', { LARDER_PORT_BASE: '70000' }).catch((error: unknown) => String(error));
  expect(failed).toMatch(/exited \(2\) before it was ready/);
  expect(failed).toContain('npm start: LARDER_PORT_BASE: expected a port from 0 to 65518 but got "70000"');
});
