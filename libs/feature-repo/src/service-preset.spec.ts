import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@larder/rpc';
import { featureRepoPreset, findServiceRepo } from './service-preset';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-preset-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function repo(name: string, yaml: string): string {
  const root = path.join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'larder.yaml'), yaml);
  return root;
}

test('the repo is --repo, else $LARDER_REPO, else a working directory holding larder.yaml', () => {
  const a = repo('a', 'project: a\n');
  const b = repo('b', 'project: b\n');
  const plain = path.join(dir, 'plain');
  mkdirSync(plain, { recursive: true });
  expect(findServiceRepo(['--repo', 'a'], { LARDER_REPO: b }, dir)).toEqual({ dir: a, from: '--repo' });
  expect(findServiceRepo([`--repo=${a}`], {}, plain)).toEqual({ dir: a, from: '--repo' });
  expect(findServiceRepo(['--config', 'x.yaml'], { LARDER_REPO: b }, a)).toEqual({ dir: b, from: 'environment variable LARDER_REPO' });
  expect(findServiceRepo([], {}, a)).toEqual({ dir: a, from: 'the working directory' });
  expect(findServiceRepo([], {}, plain)).toBeUndefined();
});

test("larder.yaml's settings, by the variable each stands for, with the line and key they came from", async () => {
  const root = repo(
    'stores',
    'project: Larder-Compat\nregistry:\n  address: reg.ml:6570\nonline_store:\n  type: redis\n  url: ' +
      'redis://cache:6379/2\n  layout: feast\noffline_store:\n  type: postgres\n  url: postgres://pg/features\n',
  );
  const preset = await featureRepoPreset({ argv: [], env: {} }, root);
  const file = path.join(root, 'larder.yaml');
  expect(Object.fromEntries(preset!.byEnv)).toEqual({
    LARDER_PROJECT: { value: 'Larder-Compat', source: `${file} line 1, column 10 (project)` },
    LARDER_REGISTRY_ADDRESS: { value: 'reg.ml:6570', source: `${file} line 3, column 12 (registry.address)` },
    LARDER_ONLINE_STORE_TYPE: { value: 'redis', source: `${file} line 5, column 9 (online_store.type)` },
    LARDER_REDIS_URL: { value: 'redis://cache:6379/2', source: `${file} line 6, column 8 (online_store.url)` },
    LARDER_REDIS_LAYOUT: { value: 'feast', source: `${file} line 7, column 11 (online_store.layout)` },
    LARDER_OFFLINE_STORE_TYPE: { value: 'postgres', source: `${file} line 9, column 9 (offline_store.type)` },
    LARDER_POSTGRES_URL: { value: 'postgres://pg/features', source: `${file} line 10, column 8 (offline_store.url)` },
    LARDER_INGESTION_BASE_PATH: { value: root, source: 'the feature repo folder (the working directory)' },
  });
  expect(preset!.description).toBe(`feature repo ${root} (the working directory)`);
});

test('keys larder.yaml leaves out take its defaults, named as such; a bad file is a ConfigError at its line', async () => {
  const root = repo('defaults', 'project: drivers\nservices:\n  registry: reg:1\n');
  const preset = await featureRepoPreset({ argv: [], env: {} }, root);
  const file = path.join(root, 'larder.yaml');
  expect(preset!.byEnv.get('LARDER_ONLINE_STORE_PATH')).toEqual({
    value: path.join(root, 'data/online_store.db'),
    source: `${file}: the default of online_store.path`,
  });
  expect(preset!.byEnv.get('LARDER_REGISTRY_LOCATION')).toEqual({
    value: path.join(root, 'data/registry.db'),
    source: `${file}: the default of registry.path`,
  });
  expect(preset!.byEnv.get('LARDER_REGISTRY_ADDRESS')?.source).toBe(`${file} line 3, column 13 (services.registry)`);

  const bad = repo('bad', 'project: _x\nonline_store:\n  type: mongo\n');
  const error = await featureRepoPreset({ argv: ['--repo', bad], env: {} }, dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).issues.map((i) => `${i.key} @ ${i.source}`)).toEqual([
    `online_store.type @ ${path.join(bad, 'larder.yaml')} line 3, column 3`,
    `project @ ${path.join(bad, 'larder.yaml')} line 1, column 1`,
  ]);
  const missing = await featureRepoPreset({ argv: [], env: { LARDER_REPO: path.join(dir, 'nowhere') } }, dir).catch((e: unknown) => e);
  expect((missing as ConfigError).message).toContain(`the feature repo of environment variable LARDER_REPO`);
});
