// Large registries against the real registry service: versions and snapshots over grpc's
// default 4 MiB limit reach the copy (the registry streams them in parts), and a copy
// that cannot follow says so through its readiness check, then recovers.
import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { RegistryClient } from './registry-client';
import { startTestRegistry } from './testing/test-registry';
import type { TestRegistry } from './testing/test-registry';

const MB = 1_000_000;

/** Entities whose descriptions add up to about `megabytes` MB, in objects of `each` bytes. */
function bulkyEntities(prefix: string, megabytes: number, each = MB): registryV1.Entity[] {
  return Array.from({ length: Math.ceil((megabytes * MB) / each) }, (_, i) =>
    create(registryV1.EntitySchema, {
      name: `${prefix}_${i}`,
      joinKey: `${prefix}_${i}_id`,
      valueType: typesV1.ValueType.INT64,
      description: String.fromCharCode(97 + (i % 26)).repeat(each),
    }),
  );
}

let registry: TestRegistry;
const clients: RegistryClient[] = [];

function follow(options: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const client = new RegistryClient({ address: registry.address, backoff: { initialMs: 50, maxMs: 300 }, ...options }).start();
  clients.push(client);
  return client;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  registry = await startTestRegistry();
}, 60_000);
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closed()));
});
afterAll(async () => {
  await registry.dispose();
});

test('a 5 MB commit (one 5 MB object among others) and a snapshot of two 9 MB projects reach the copy', async () => {
  const following = follow();
  await following.ready(10_000);
  expect(following.notReadyReason()).toBeUndefined();

  const single = await registry.apply({ project: 'big_a', entities: [...bulkyEntities('one', 5, 5 * MB), ...bulkyEntities('small', 0.2, 50_000)] });
  await following.waitForVersion(single.version, 20_000);
  expect(following.entity('big_a', 'one_0')?.description).toHaveLength(5 * MB);
  expect(following.entities('big_a')).toHaveLength(5);

  await registry.apply({ project: 'big_a', entities: bulkyEntities('many', 9) });
  const last = await registry.apply({ project: 'big_b', entities: bulkyEntities('many', 9) });
  await following.waitForVersion(last.version, 30_000);
  expect(following.entities('big_b')).toHaveLength(9);

  // A new copy loads all ~23 MB as one snapshot, in parts; grpc's limit was 4 MiB and the registry's 16 MiB.
  const fresh = follow();
  await fresh.ready(30_000);
  expect(fresh.version).toBe(last.version);
  expect(
    fresh
      .entities('big_a')
      .map((e) => e.name)
      .sort(),
  ).toEqual(expect.arrayContaining(['one_0', 'many_0', 'many_8']));
  expect(fresh.entities('big_b').map((e) => e.description.length)).toEqual(Array.from({ length: 9 }, () => MB));
  expect(fresh.notReadyReason()).toBeUndefined();
}, 120_000);

test('a copy that cannot take a message is not ready, with the reason, and recovers from a snapshot once it can', async () => {
  await registry.apply({ project: 'tight', entities: bulkyEntities('e', 0.01, 10_000) });
  const client = follow({ project: 'tight', maxMessageBytes: 256 * 1024 });
  const changes: (string | undefined)[] = [];
  client.onReadinessChange(() => changes.push(client.notReadyReason()));
  expect(client.notReadyReason()).toMatch(/^no registry snapshot yet from 127\.0\.0\.1:\d+/);
  await client.ready(10_000);
  expect(client.notReadyReason()).toBeUndefined();

  // Within the registry's limit, over this client's.
  await registry.apply({ project: 'tight', entities: bulkyEntities('huge', 0.5, 500_000) });
  await waitFor(() => client.notReadyReason() !== undefined, 10_000, 'the copy to report it is stuck');
  const reason = client.notReadyReason() as string;
  expect(reason).toMatch(/^the registry copy \(version \d+\) cannot follow the registry at 127\.0\.0\.1:\d+: /);
  expect(reason).toMatch(/larger than max/i);
  // Reads still answer from the copy it has.
  expect(client.entity('tight', 'e_0')).toBeDefined();

  // The operator removes the oversized object: a snapshot (not the replay, which still holds it) brings the copy back.
  const shrunk = await registry.apply({
    project: 'tight',
    entities: [create(registryV1.EntitySchema, { name: 'huge_0', joinKey: 'huge_0_id', valueType: typesV1.ValueType.INT64, description: 'small now' })],
  });
  await client.waitForVersion(shrunk.version, 10_000);
  await waitFor(() => client.notReadyReason() === undefined, 10_000, 'the copy to be ready again');
  expect(client.entity('tight', 'huge_0')?.description).toBe('small now');
  expect(changes.some((c) => c !== undefined)).toBe(true);
  expect(changes.at(-1)).toBeUndefined();
}, 60_000);
