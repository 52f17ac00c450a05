// A service started in a feature repo takes its stores from the repo's larder.yaml, as a
// Feast user expects of `feast serve`: here a Feast deployment's Redis (feast layout) under
// a project named as Feast allows (`larder-compat`, with a hyphen), written by the real
// feast package, read by online serving started in a repo that says nothing else.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { feastPython, runFeast } from '@larder/online-store';
import { servingV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp, testServices } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

jest.setTimeout(25 * 60_000);

const PROJECT = 'larder-compat';
const work = mkdtempSync(path.join(os.tmpdir(), 'larder-serving-repo-'));
const repo = path.join(work, 'repo');
const elsewhere = path.join(work, 'elsewhere');
let registry: RunningLarderApp;
const started: RunningLarderApp[] = [];

const b64 = (v: typesV1.Value['val']): string => Buffer.from(toBinary(typesV1.ValueSchema, create(typesV1.ValueSchema, { val: v }))).toString('base64');
const driverKey = (id: bigint) => ({ join_keys: ['driver_id'], values: [b64({ case: 'int64Val', value: id })] });
const larderYaml = (layout: string): string => `project: ${PROJECT}
registry:
  address: ${registry.address}
online_store:
  type: redis
  url: ${testServices().redis.url}
  layout: ${layout}
`;

async function serve(options: { cwd: string; env?: Record<string, string> }): Promise<RunningLarderApp> {
  const app = await startLarderApp({ app: 'online-serving', cwd: options.cwd, env: { LARDER_HTTP_PORT: '0', ...options.env } });
  started.push(app);
  return app;
}

async function conv(address: string, id: bigint): Promise<[number | undefined, string]> {
  const client = createClient(servingV1.OnlineServingService, address);
  try {
    const res = await client.getOnlineFeatures({
      kind: { case: 'features', value: { val: ['driver_hourly_stats:conv_rate'] } },
      entities: { driver_id: { val: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: id } })] } },
    });
    const vector = res.results[1];
    return [vector?.values[0]?.val.value as number | undefined, typesV1.FieldStatus[vector?.statuses[0] ?? 0] as string];
  } finally {
    client.close();
  }
}

let python: string;
beforeAll(async () => {
  python = await feastPython();
  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  expect((await larder(['init', 'repo', '-q'], work)).code).toBe(0);
  writeFileSync(path.join(repo, 'larder.yaml'), larderYaml('feast'));
  mkdirSync(elsewhere);
});

afterAll(async () => {
  await Promise.all(started.map((app) => app.stop()));
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test(`a Feast project named '${PROJECT}' applies, and online serving started in its repo reads what feast wrote`, async () => {
  const applied = await larder(['apply', '-q'], repo);
  expect([applied.code, applied.stderr]).toEqual([0, '']);

  // The real feast package writes driver 1001 under the project, in its own key bytes.
  const view = { name: 'driver_hourly_stats', join_keys: ['driver_id'], features: [{ name: 'conv_rate', type: 'FLOAT' }] };
  const now = Date.now();
  await runFeast(python, {
    op: 'write',
    redis: `${testServices().redis.host}:${testServices().redis.port}`,
    project: PROJECT,
    view,
    rows: [{ entity_key: driverKey(1001n), ts_us: now * 1000, values: { conv_rate: b64({ case: 'floatVal', value: 0.75 }) } }],
  });
  const keys = await runFeast<{ redis_keys: string[] }>(python, { op: 'keys', project: PROJECT, entity_keys: [driverKey(1001n)], strings: [] });
  expect(keys.redis_keys[0]).toMatch(new RegExp(`${Buffer.from(PROJECT).toString('hex')}$`));

  // Nothing but the working directory says where the store is, which layout, which project and which registry.
  const serving = await serve({ cwd: repo });
  expect(serving.output.join('\n')).toContain(`"preset":"feature repo ${repo} (the working directory)"`);
  expect(await conv(serving.address, 1001n)).toEqual([0.75, 'PRESENT']);
  expect(await conv(serving.address, 1002n)).toEqual([undefined, 'NOT_FOUND']);
});

test('LARDER_REPO points a service at a repo from elsewhere; an environment variable still wins over larder.yaml', async () => {
  const pointed = await serve({ cwd: elsewhere, env: { LARDER_REPO: repo } });
  expect(await conv(pointed.address, 1001n)).toEqual([0.75, 'PRESENT']);
  // The packed layout keeps its rows under other keys: the same read finds nothing there.
  const packed = await serve({ cwd: elsewhere, env: { LARDER_REPO: repo, LARDER_REDIS_LAYOUT: 'packed' } });
  expect(await conv(packed.address, 1001n)).toEqual([undefined, 'NOT_FOUND']);
});

test('a bad larder.yaml stops the service with the file, line and key of the bad value', async () => {
  const bad = path.join(work, 'bad');
  mkdirSync(bad);
  writeFileSync(path.join(bad, 'larder.yaml'), larderYaml('fast'));
  const failure = await serve({ cwd: elsewhere, env: { LARDER_REPO: bad } }).then(
    () => 'started',
    (error: unknown) => String(error),
  );
  expect(failure).toMatch(/exited \(2\) before listening/);
  expect(failure).toContain(
    `invalid configuration: online_store.layout: 'fast' is not one of packed, feast (${path.join(bad, 'larder.yaml')} line 7, column 3)`,
  );
  expect(readFileSync(path.join(bad, 'larder.yaml'), 'utf8')).toContain('layout: fast');
});
