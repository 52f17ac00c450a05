import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { RegistryStoreError } from './errors';
import { testServices } from '@larder/testing';
import { Client } from 'pg';
import type { RegistryStore } from './registry-store';
import { postgresBackend } from './testing/backends';
import { driverRequest, featureView, permission } from './testing/fixtures';

const K = registryV1.ObjectKind;

const backend = postgresBackend();
afterEach(() => backend.cleanup());

/** Applies, retrying on ABORTED as a client should; returns how many attempts it took. */
async function applyWithRetry(store: RegistryStore, req: registryV1.ApplyRegistryRequest): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.apply(req);
      return attempt;
    } catch (error) {
      if (!(error instanceof RegistryStoreError) || error.kind !== 'CONFLICT' || attempt > 50) throw error;
    }
  }
}

function addView(name: string): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, { project: 'rides', featureViews: [featureView(name)] });
}

test('two truly concurrent applies from two replicas: one wins, the other is ABORTED, its retry succeeds, nothing is lost', async () => {
  const a = await backend.open();
  const b = await backend.another();
  await a.apply(driverRequest('rides', 1));
  const schema = a.location.match(/schema (\w+)/)?.[1] as string;

  // Hold the version row so both applies read version 1 and plan, then queue
  // on their conditional UPDATE: they overlap for certain.
  const blocker = new Client({ connectionString: testServices().postgres.url });
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT version FROM "${schema}".meta FOR UPDATE`);
    const results = Promise.allSettled([a.apply(addView('from_a')), b.apply(addView('from_b'))]);
    await waitUntilWaiting(blocker, 2);
    await blocker.query('COMMIT');
    const [ra, rb] = await results;
    const outcomes = [ra, rb].map((r) => r.status);
    expect(outcomes.sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = [ra, rb].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(RegistryStoreError);
    expect((rejected.reason as RegistryStoreError).kind).toBe('CONFLICT');
    expect((rejected.reason as RegistryStoreError).message).toMatch(/changed while this change was being applied.*retry/);
    expect((await a.version()).version).toBe(2n);

    // The loser retries and succeeds; both views are there.
    const loser = ra.status === 'rejected' ? { store: a, view: 'from_a' } : { store: b, view: 'from_b' };
    expect((await loser.store.apply(addView(loser.view))).version).toBe(3n);
    const names = (await a.listObjects(K.FEATURE_VIEW, 'rides')).value.map((v) => v.name);
    expect(names).toEqual(['driver_stats_0', 'from_a', 'from_b']);
  } finally {
    await blocker.end();
  }
});

test('many concurrent applies from two replicas, retried on ABORTED, lose nothing and get one version each', async () => {
  const a = await backend.open();
  const b = await backend.another();
  await a.apply(driverRequest('rides', 1));
  const views = Array.from({ length: 16 }, (_, i) => `view_${String(i).padStart(2, '0')}`);
  const attempts = await Promise.all(views.map((name, i) => applyWithRetry(i % 2 === 0 ? a : b, addView(name))));
  expect(attempts.every((n) => n >= 1)).toBe(true);
  const names = (await b.listObjects(K.FEATURE_VIEW, 'rides')).value.map((v) => v.name);
  expect(names).toEqual(['driver_stats_0', ...views]);
  expect((await a.version()).version).toBe(BigInt(1 + views.length));
  const replay = await a.changesSince(1n);
  expect(replay?.map((e) => e.version)).toEqual(views.map((_, i) => BigInt(i + 2)));
});

test('LISTEN/NOTIFY: a replica that only reads pushes every commit of another to its subscribers, in order', async () => {
  const writer = await backend.open();
  const reader = await backend.another();
  const seen: registryV1.WatchRegistryResponse[] = [];
  reader.subscribe((change) => seen.push(change));
  const started = Date.now();
  await writer.apply(driverRequest('rides', 1));
  await writer.apply(addView('second'));
  await writer.deleteObject(K.FEATURE_VIEW, 'rides', 'second');
  while (seen.length < 3 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 5));
  expect(seen.map((c) => c.version)).toEqual([1n, 2n, 3n]);
  expect(seen[2]?.changes.map((c) => `${c.name} ${registryV1.ChangeType[c.change]}`)).toEqual(['second DELETE']);
});

test('permissions: rows of their own kind, pushed to a reading replica with the object, pruned by a later apply', async () => {
  const writer = await backend.open();
  const reader = await backend.another();
  const seen: registryV1.WatchRegistryResponse[] = [];
  reader.subscribe((change) => seen.push(change));
  await writer.apply(driverRequest('rides', 1, { permissions: [permission('driver-readers'), permission('others', { namePatterns: ['other_?'] })] }));
  await writer.apply(driverRequest('rides', 1, { permissions: [permission('driver-readers')], prune: true }));
  const deadline = Date.now() + 5_000;
  while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(seen.map((v) => v.changes.filter((c) => c.kind === K.PERMISSION).map((c) => `${c.name} ${registryV1.ChangeType[c.change]} ${c.object.case}`))).toEqual(
    [['driver-readers CREATE permission', 'others CREATE permission'], ['others DELETE undefined']],
  );
  const schema = writer.location.match(/schema (\w+)/)?.[1] as string;
  const db = new Client({ connectionString: testServices().postgres.url });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string }>(`SELECT name FROM "${schema}".objects WHERE kind = $1 ORDER BY name`, [K.PERMISSION]);
    expect(rows.map((r) => r.name)).toEqual(['driver-readers']);
  } finally {
    await db.end();
  }
  expect((await reader.getObject(K.PERMISSION, 'rides', 'driver-readers')).value.policy?.roles).toEqual(['rides-analysts']);
});

test('a replica whose LISTEN connection is killed reconnects and catches up on what it missed', async () => {
  const writer = await backend.open();
  const reader = await backend.another();
  const seen: bigint[] = [];
  reader.subscribe((change) => seen.push(change.version));
  await writer.apply(driverRequest('rides', 1));
  while (seen.length < 1) await new Promise((r) => setTimeout(r, 5));

  const admin = new Client({ connectionString: testServices().postgres.url });
  await admin.connect();
  try {
    // Terminate the listeners of this registry (both replicas'), nobody else's.
    const schema = reader.location.match(/schema (\w+)/)?.[1] as string;
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${schema}_changes"`]);
    expect(killed.rowCount).toBeGreaterThanOrEqual(1);
  } finally {
    await admin.end();
  }
  await writer.apply(addView('while_down'));
  const deadline = Date.now() + 10_000;
  while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(seen).toEqual([1n, 2n]);
});

async function waitUntilWaiting(admin: Client, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    // pg_stat_activity is a per-transaction snapshot; the admin holds a transaction open.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE %meta SET version%'`,
    );
    if (Number(rows[0]?.n) >= count) return;
    if (Date.now() > deadline) {
      const all = await admin.query(`SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity`);
      throw new Error(`only ${rows[0]?.n} applies waiting on the version row: ${JSON.stringify(all.rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
