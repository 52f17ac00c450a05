import { spawn } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1 } from '@larder/proto';
import { FileRegistryStore } from './file-store';
import { driverRequest, permission } from './testing/fixtures';

const K = registryV1.ObjectKind;
const REPO_ROOT = path.resolve(__dirname, '../../..');

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-file-registry-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a writer SIGKILLed in the middle of writing leaves the previous registry intact', async () => {
  const file = path.join(dir, 'registry.json');
  const before = await FileRegistryStore.open(file, { watch: false });
  await before.apply(driverRequest('rides', 2));
  await before.close();
  const previousBytes = await readFile(file, 'utf8');

  // node itself with tsx as a loader (not the tsx CLI, which would run the writer in a grandchild the kill misses).
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'testing/crash-writer.ts'), file, '6000'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));

  // Kill it as soon as its temp file has data in it: mid-write, before the rename.
  let killedMidWrite = '';
  const watcher = watch(dir, () => undefined);
  try {
    const deadline = Date.now() + 60_000;
    while (killedMidWrite === '' && Date.now() < deadline && child.exitCode === null) {
      const temp = (await readdir(dir)).find((name) => name.endsWith('.tmp'));
      if (temp !== undefined) {
        const size = await stat(path.join(dir, temp)).then(
          (s) => s.size,
          () => 0,
        );
        if (size > 0) {
          child.kill('SIGKILL');
          killedMidWrite = temp;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    watcher.close();
  }
  expect(await exited).toBe('SIGKILL');
  expect({ killedMidWrite: killedMidWrite !== '', output }).toEqual({ killedMidWrite: true, output: 'applying\n' });
  // The half-written temp file is there, the registry file is byte-for-byte the previous one.
  expect(existsSync(path.join(dir, killedMidWrite))).toBe(true);
  expect(await readFile(file, 'utf8')).toBe(previousBytes);

  // It loads intact; the dead writer's lock and temp file do not get in the way.
  const after = await FileRegistryStore.open(file, { watch: false });
  try {
    expect((await after.version()).version).toBe(1n);
    expect((await after.listObjects(K.FEATURE_VIEW, 'rides')).value.map((v) => v.name)).toEqual(['driver_stats_0', 'driver_stats_1']);
    expect(existsSync(path.join(dir, killedMidWrite))).toBe(false);
    expect((await after.apply(driverRequest('rides', 3))).version).toBe(2n);
  } finally {
    await after.close();
  }
}, 90_000);

test('the file is proto JSON that names its format, and a foreign file is refused', async () => {
  const file = path.join(dir, 'registry.json');
  const store = await FileRegistryStore.open(file, { watch: false });
  await store.apply(driverRequest('rides', 1));
  await store.close();
  const json = JSON.parse(await readFile(file, 'utf8')) as {
    format: string;
    version: string;
    projects: Array<{ featureViews: Array<{ name: string; batch_source: string }> }>;
  };
  expect(json.format).toBe('larder-registry/1');
  expect(json.version).toBe('1');
  expect(json.projects[0]?.featureViews[0]).toMatchObject({ name: 'driver_stats_0', batch_source: 'driver_hourly' });

  const foreign = path.join(dir, 'foreign.json');
  await writeFile(foreign, '{"hello": "world"}');
  await expect(FileRegistryStore.open(foreign, { watch: false })).rejects.toThrow(/format/);
});

test('permissions are stored as proto JSON with lower-case field names, and a file written before permissions existed still opens', async () => {
  const file = path.join(dir, 'registry.json');
  const store = await FileRegistryStore.open(file, { watch: false });
  await store.apply(driverRequest('rides', 1, { permissions: [permission()] }));
  await store.close();
  const json = JSON.parse(await readFile(file, 'utf8')) as { projects: Array<Record<string, unknown>> };
  expect(json.projects[0]?.['permissions']).toEqual([
    expect.objectContaining({
      name: 'driver-readers',
      types: ['OBJECT_KIND_FEATURE_VIEW'],
      name_patterns: ['driver_*'],
      actions: ['ACTION_DESCRIBE', 'ACTION_READ_ONLINE'],
      policy: { roles: ['rides-analysts'], service_accounts: ['serving/kserve-rides'] },
    }),
  ]);

  // The format before permissions: no "permissions" key in a project.
  delete json.projects[0]?.['permissions'];
  const older = path.join(dir, 'older.json');
  await writeFile(older, JSON.stringify(json));
  const reopened = await FileRegistryStore.open(older, { watch: false });
  try {
    expect((await reopened.listObjects(registryV1.ObjectKind.PERMISSION, 'rides')).value).toEqual([]);
    expect(
      (await reopened.apply(driverRequest('rides', 1, { permissions: [permission()] }))).diffs
        .filter((d) => d.kind === registryV1.ObjectKind.PERMISSION)
        .map((d) => d.change),
    ).toEqual([registryV1.ChangeType.CREATE]);
  } finally {
    await reopened.close();
  }
});

test('a writer holding the lock makes another wait, and a live lock that is never released ends in ABORTED', async () => {
  const file = path.join(dir, 'registry.json');
  // A lock held by a live process (this one, as another instance would be).
  await writeFile(`${file}.lock`, String(process.pid));
  const store = await FileRegistryStore.open(file, { watch: false, lockTimeoutMs: 200 });
  try {
    await expect(store.apply(driverRequest('rides', 1))).rejects.toMatchObject({ kind: 'CONFLICT', message: expect.stringContaining('locked') });
    await rm(`${file}.lock`);
    expect((await store.apply(driverRequest('rides', 1))).version).toBe(1n);
  } finally {
    await store.close();
  }
});
