import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegistryClient } from '@larder/registry-client';
import { REPO_ROOT as repoRoot, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const main = path.join(repoRoot, 'apps/cli/src/main.ts');

/** `larder ...` as a child process, the way a user runs it. */
function larder(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(tsx, [main, ...args], { cwd, env: { ...process.env, LARDER_REGISTRY: '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function json<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`larder exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface PlanJson {
  applied: boolean;
  version: string;
  summary: { create: number; update: number; delete: number; unchanged: number };
  diffs: { kind: string; name: string; change: string; changed_fields: string[] }[];
}

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

jest.setTimeout(180_000);

describe('against a file registry', () => {
  const repo = path.join(work, 'file_repo');

  test('init creates the example repo with sample data', async () => {
    const run = await larder(['init', 'file_repo'], work);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Created feature repo');
    for (const file of ['larder.yaml', 'driver_stats.yaml', 'data/driver_stats.parquet']) expect(existsSync(path.join(repo, file))).toBe(true);
    // A second init into the same folder refuses to overwrite: a failed operation.
    const again = await larder(['init', 'file_repo'], work);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  test('plan shows every object as a create and writes nothing', async () => {
    const plan = json<PlanJson>(await larder(['plan', '-o', 'json'], repo));
    expect(plan.applied).toBe(false);
    expect(plan.summary).toEqual({ create: plan.diffs.length, update: 0, delete: 0, unchanged: 0 });
    expect(plan.diffs).toContainEqual({ kind: 'feature-view', name: 'driver_hourly_stats', change: 'create', changed_fields: [] });
    const table = await larder(['plan'], repo);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^\+\s+feature-view\s+driver_hourly_stats$/m);
    expect(table.stdout).toMatch(/Plan for project driver_stats: \d+ to create, 0 to update, 0 to delete, 0 unchanged\./);
    const dump = json<{ version: string; projects: unknown[] }>(await larder(['registry-dump'], repo));
    expect(dump).toMatchObject({ version: '0', projects: [] });
  });

  test('apply writes the repo, shows progress, and a second apply changes nothing', async () => {
    const run = await larder(['apply'], repo);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Applied project driver_stats: \d+ created, 0 updated, 0 deleted, 0 unchanged; registry version 1\./);
    expect(run.stderr).toMatch(/Loading feature repo .*: \d+ objects in 1 files, valid \(\d+ ms\)/);
    expect(run.stderr).toMatch(/Applying to the file registry .*registry\.db: registry version 1 \(\d+ ms\)/);

    const again = json<PlanJson>(await larder(['apply', '-o', 'json', '-q'], repo));
    expect(again.applied).toBe(false);
    expect(again.version).toBe('1');
    expect(again.summary.create + again.summary.update + again.summary.delete).toBe(0);
  });

  test('a changed definition plans as an update naming the field', async () => {
    const file = path.join(repo, 'driver_stats.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('ttl: 1d', 'ttl: 2d'));
    try {
      const plan = json<PlanJson>(await larder(['plan', '-o', 'json', '-q'], repo));
      expect(plan.diffs.filter((d) => d.change !== 'unchanged')).toEqual([
        { kind: 'feature-view', name: 'driver_hourly_stats', change: 'update', changed_fields: ['ttl'] },
      ]);
    } finally {
      writeFileSync(file, original);
    }
  });

  test('list, describe and features read the registry', async () => {
    const [views, viewsJson, view, entity, ints, tagged, dump] = await Promise.all([
      larder(['list', 'feature-views'], repo),
      larder(['list', 'fv', '-o', 'json'], repo),
      larder(['describe', 'feature-view', 'driver_hourly_stats', '-o', 'json'], repo),
      larder(['describe', 'entity', 'driver'], repo),
      larder(['features', '--type', 'int64', '-o', 'json'], repo),
      larder(['features', '--tag', 'team=driver_performance', '--name', 'RATE'], repo),
      larder(['registry-dump'], repo),
    ]);
    expect(views.code).toBe(0);
    expect(views.stdout).toMatch(/^NAME\s+ENTITIES\s+FEATURES\s+TTL/);
    expect(views.stdout).toMatch(/^driver_hourly_stats\s+driver\s+3\s+1d\s+yes\s+driver_stats_source/m);
    expect(json<{ name: string }[]>(viewsJson).map((v) => v.name)).toEqual(['driver_hourly_stats', 'driver_hourly_stats_fresh']);
    const described = json<{ name: string; ttl: string; schema: { name: string; value_type: string }[] }>(view);
    expect(described.ttl).toBe('86400s');
    expect(described.schema).toContainEqual(expect.objectContaining({ name: 'avg_daily_trips', value_type: 'VALUE_TYPE_INT64' }));
    expect(entity.code).toBe(0);
    expect(entity.stdout).toContain('join_key: driver_id');
    expect(json<{ feature_view: string; name: string }[]>(ints).map((f) => `${f.feature_view}:${f.name}`)).toEqual([
      'driver_hourly_stats:avg_daily_trips',
      'driver_hourly_stats_fresh:avg_daily_trips',
    ]);
    expect(tagged.code).toBe(0);
    expect(tagged.stdout).toMatch(/^driver_hourly_stats:conv_rate\s+float\s+driver/m);
    expect(tagged.stdout).toMatch(/^driver_hourly_stats:acc_rate/m);
    expect(tagged.stdout).not.toContain('avg_daily_trips');
    const dumped = json<{ version: string; projects: { project: { name: string }; feature_views: { name: string }[] }[] }>(dump);
    expect(dumped.version).toBe('1');
    expect(dumped.projects.map((p) => p.project.name)).toEqual(['driver_stats']);
    expect(dumped.projects[0]?.feature_views.map((v) => v.name)).toEqual(['driver_hourly_stats', 'driver_hourly_stats_fresh']);
  });

  test('a bad definition fails with exit 1 naming the file, line and key', async () => {
    const bad = path.join(repo, 'bad.yaml');
    writeFileSync(bad, ['kind: Entity', 'name: customer', 'join_key: customer_id', 'value_type: int64', 'colour: blue', ''].join('\n'));
    try {
      const run = await larder(['apply'], repo);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/bad\.yaml:5:1: colour: unknown key 'colour'/);
      expect(run.stdout).toBe('');
      // Listing needs only larder.yaml, so broken definitions do not get in its way.
      const listed = await larder(['list', 'entity'], repo);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^driver\s/m);
    } finally {
      rmSync(bad);
    }
  });

  test('usage errors exit 2, failed operations exit 1', async () => {
    const [unknownCommand, missingKind, badOutput, badKind, badFlag, missing, help] = await Promise.all([
      larder(['frobnicate'], repo),
      larder(['list'], repo),
      larder(['list', 'fv', '--output', 'xml'], repo),
      larder(['describe', 'widget', 'x'], repo),
      larder(['plan', '--prunee'], repo),
      larder(['describe', 'feature-view', 'nope'], repo),
      larder(['list', '--help'], repo),
    ]);
    expect(unknownCommand).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(missingKind).toMatchObject({ code: 2, stderr: expect.stringContaining('missing argument: larder list <kind>') });
    expect(badOutput).toMatchObject({ code: 2, stderr: expect.stringContaining('--output must be one of table, json; got "xml"') });
    expect(badKind).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown kind "widget"') });
    expect(badFlag).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown option --prunee') });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/NOT_FOUND: .*nope/) });
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: larder list <kind> [options]') });
  });

  test('teardown deletes the project; a second teardown fails', async () => {
    const run = await larder(['teardown'], repo);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Deleted project driver_stats');
    const dump = json<{ projects: unknown[] }>(await larder(['registry-dump'], repo));
    expect(dump.projects).toEqual([]);
    const again = await larder(['teardown'], repo);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/NOT_FOUND/);
  });
});

describe('against a running registry service', () => {
  const repo = path.join(work, 'remote_repo');
  let registry: RunningLarderApp;
  let follower: RegistryClient;

  beforeAll(async () => {
    registry = await startLarderApp({
      app: 'registry',
      startTimeoutMs: 30_000,
      env: { LARDER_REGISTRY_LOCATION: path.join(work, 'service-registry.json'), LARDER_METRICS_ENABLED: 'false', LARDER_SHUTDOWN_GRACE_PERIOD: '2s' },
    });
    follower = new RegistryClient({ address: registry.address }).start();
    await follower.ready(10_000);
    expect((await larder(['init', 'remote_repo', '-q'], work)).code).toBe(0);
  });

  afterAll(async () => {
    await follower.closed();
    await registry.stop();
  });

  test('apply with --registry host:port reaches the service and its watchers', async () => {
    const run = await larder(['apply', '--registry', registry.address], repo);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`Applying to the registry service at ${registry.address}: registry version 1`);
    await follower.waitForVersion(1n, 5000);
    expect(follower.featureView('driver_stats', 'driver_hourly_stats')?.schema.map((f) => f.name)).toEqual(['conv_rate', 'acc_rate', 'avg_daily_trips']);
    // The repo's own file registry was not touched.
    expect(existsSync(path.join(repo, 'data/registry.db'))).toBe(false);
  });

  test("larder.yaml's registry address is used without a flag", async () => {
    const config = path.join(repo, 'larder.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/registry:\n {2}path: data\/registry\.db/, `registry:\n  address: ${registry.address}`));
    expect(readFileSync(config, 'utf8')).toContain(`address: ${registry.address}`);
    const [plan, views, described, features, dump] = await Promise.all([
      larder(['plan', '-o', 'json', '-q'], repo),
      larder(['list', 'feature-view'], repo),
      larder(['describe', 'data-source', 'driver_stats_source', '-o', 'json'], repo),
      larder(['features', '--entity', 'driver', '--owner', 'ml-platform@example.com', '-o', 'json'], repo),
      larder(['registry-dump'], repo),
    ]);
    expect(json<PlanJson>(plan).summary).toMatchObject({ create: 0, update: 0, delete: 0 });
    expect(views.stdout).toMatch(/^driver_hourly_stats\s+driver\s+3/m);
    expect(json<{ file: { path: string } }>(described).file.path).toBe(path.join(repo, 'data/driver_stats.parquet'));
    expect(json<{ feature_view: string }[]>(features).every((f) => f.feature_view === 'driver_hourly_stats')).toBe(true);
    expect(json<{ feature_view: string }[]>(features)).toHaveLength(3);
    const dumped = json<{ version: string; projects: { project: { name: string } }[] }>(dump);
    expect(dumped.version).toBe('1');
    expect(dumped.projects.map((p) => p.project.name)).toEqual(['driver_stats']);
  });

  test('teardown through the service; the watcher sees the project go', async () => {
    const run = await larder(['teardown'], repo);
    expect(run.code).toBe(0);
    await follower.waitForVersion(2n, 5000);
    expect(follower.projectNames()).not.toContain('driver_stats');
    expect((await larder(['teardown'], repo)).code).toBe(1);
  });

  test('a broken larder.yaml is reported at its line and key, even by list', async () => {
    const dir = path.join(work, 'broken_config');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'larder.yaml'), `project: driver_stats\nregistry:\n  address: ${registry.address}\n  path: also.db\n`);
    const run = await larder(['list', 'fv'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/larder\.yaml:2:1: registry: .*exactly one of path, url, postgres, address/);
  });

  test('the registry rejecting what only it can check is pointed back at the file and line', async () => {
    // A view turned into an on-demand view of the same name, applied without pruning:
    // the repo alone is valid, but the registry still holds the old view.
    const dir = path.join(work, 'rejected_repo');
    expect((await larder(['init', 'rejected_repo', '-q'], work)).code).toBe(0);
    const config = path.join(dir, 'larder.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('project: driver_stats', 'project: conversions'));
    const extra = path.join(dir, 'boost.yaml');
    writeFileSync(
      extra,
      [
        'kind: FeatureView',
        'name: conv_boost',
        'entities: [driver]',
        'schema:',
        '  - name: boost',
        '    value_type: double',
        'batch_source: driver_stats_source',
        '',
      ].join('\n'),
    );
    // The view reads a column the sample data lacks: only the registry's answer is under test here.
    expect((await larder(['apply', '-q', '--skip-source-check', '--registry', registry.address], dir)).code).toBe(0);

    writeFileSync(
      extra,
      [
        'kind: OnDemandFeatureView',
        'name: conv_boost',
        'sources:',
        '  - request_source: vals_to_add',
        'outputs:',
        '  - name: boost',
        '    value_type: double',
        '    expression: double(vals_to_add.val_to_add) * 2.0',
        '',
      ].join('\n'),
    );
    expect((await larder(['plan', '-q', '--skip-source-check'], dir)).code).toBe(0);
    const run = await larder(['apply', '--no-prune', '-q', '--skip-source-check', '--registry', registry.address], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: INVALID_ARGUMENT: the registry service at ${registry.address} rejected the definitions (1 problem):`);
    expect(run.stderr).toMatch(
      /^ {2}boost\.yaml:2:1: name: on-demand feature view 'conv_boost' is defined more than once; feature view and on-demand feature view names must be unique in the project$/m,
    );
    expect((await larder(['teardown', '-q', '--registry', registry.address], dir)).code).toBe(0);
  });

  test('an unreachable registry is a failed operation (exit 1)', async () => {
    const run = await larder(['list', 'fv', '--registry', '127.0.0.1:1', '--project', 'driver_stats'], repo);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the registry is unavailable/);
  });
});
