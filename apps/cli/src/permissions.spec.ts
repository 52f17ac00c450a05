import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT as repoRoot, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

// `kind: Permission` through the CLI: plan/apply diffs, list and describe,
// against the repo's file registry and a running registry service.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const main = path.join(repoRoot, 'apps/cli/src/main.ts');

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
  diffs: { kind: string; name: string; change: string; changed_fields: string[] }[];
}

const PERMISSIONS = [
  'kind: Permission',
  'name: team-risk-readers',
  'types: [feature_view, feature_service]',
  'name_patterns: ["driver_*"]',
  'required_tags: { team: driver_performance }',
  'actions: [describe, read_online, read_offline]',
  'policy:',
  '  roles: [risk-analysts]',
  '  service_accounts: [serving/kserve-risk]',
  '---',
  'kind: Permission',
  'name: everyone-describes',
  'actions: [describe]',
  'policy: { any_authenticated: true }',
  '',
].join('\n');

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-perm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

jest.setTimeout(180_000);

const permissionDiffs = (plan: PlanJson) => plan.diffs.filter((d) => d.kind === 'permission').map((d) => [d.name, d.change, ...d.changed_fields]);

describe('permissions in a feature repo with a file registry', () => {
  const repo = path.join(work, 'repo');
  const file = path.join(repo, 'permissions.yaml');

  beforeAll(async () => {
    expect((await larder(['init', 'repo', '-q'], work)).code).toBe(0);
    writeFileSync(file, PERMISSIONS);
  });

  test('plan and apply show permissions in the diff', async () => {
    const plan = json<PlanJson>(await larder(['plan', '-o', 'json', '-q'], repo));
    expect(permissionDiffs(plan)).toEqual([
      ['everyone-describes', 'create'],
      ['team-risk-readers', 'create'],
    ]);
    const table = await larder(['plan', '-q'], repo);
    expect(table.stdout).toMatch(/^\+\s+permission\s+team-risk-readers\s*$/m);
    const applied = await larder(['apply'], repo);
    expect(applied.code).toBe(0);
    expect(applied.stderr).toMatch(/Loading feature repo .*: \d+ objects in 2 files, valid/);
    expect(applied.stdout).toMatch(/^\+\s+permission\s+everyone-describes\s*$/m);
  });

  test('list permissions: a table naming types, patterns, tags, actions and who; JSON with repo names', async () => {
    const [table, asJson] = await Promise.all([larder(['list', 'permissions'], repo), larder(['list', 'permission', '-o', 'json'], repo)]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+TYPES\s+NAMES\s+TAGS\s+ACTIONS\s+WHO$/m);
    expect(table.stdout).toMatch(/^everyone-describes\s+all\s+\*\s+describe\s+any authenticated$/m);
    expect(table.stdout).toMatch(
      /^team-risk-readers\s+feature_view,feature_service\s+driver_\*\s+team=driver_performance\s+describe,read_online,read_offline\s+group:risk-analysts,sa:serving\/kserve-risk$/m,
    );
    expect(json<{ name: string; actions: string[] }[]>(asJson).map((p) => [p.name, p.actions])).toEqual([
      ['everyone-describes', ['describe']],
      ['team-risk-readers', ['describe', 'read_online', 'read_offline']],
    ]);
  });

  test('describe permission prints what a kind: Permission document holds', async () => {
    const described = await larder(['describe', 'permission', 'team-risk-readers'], repo);
    expect(described.code).toBe(0);
    const { parse } = await import('yaml');
    expect(parse(described.stdout)).toMatchObject({
      name: 'team-risk-readers',
      types: ['feature_view', 'feature_service'],
      name_patterns: ['driver_*'],
      required_tags: { team: 'driver_performance' },
      actions: ['describe', 'read_online', 'read_offline'],
      policy: { roles: ['risk-analysts'], service_accounts: ['serving/kserve-risk'] },
      meta: { project: 'driver_stats', registry_version: '1' },
    });
    const missing = await larder(['describe', 'permission', 'nope'], repo);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/NOT_FOUND: permission "nope" in project "driver_stats" not found/) });
  });

  test('a changed permission plans as an update naming the fields; a removed one as a delete', async () => {
    writeFileSync(
      file,
      PERMISSIONS.replace('actions: [describe, read_online, read_offline]', 'actions: [describe, read_online]').replace(
        '  roles: [risk-analysts]\n',
        '  roles: [risk-analysts, auditors]\n',
      ),
    );
    const update = json<PlanJson>(await larder(['plan', '-o', 'json', '-q'], repo));
    expect(permissionDiffs(update)).toEqual([
      ['everyone-describes', 'unchanged'],
      ['team-risk-readers', 'update', 'actions', 'policy.roles'],
    ]);
    writeFileSync(file, PERMISSIONS.slice(PERMISSIONS.indexOf('---\n') + 4));
    const pruned = await larder(['apply', '-q'], repo);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/^-\s+permission\s+team-risk-readers\s*$/m);
    expect(json<{ name: string }[]>(await larder(['list', 'permissions', '-o', 'json'], repo)).map((p) => p.name)).toEqual(['everyone-describes']);
  });

  test('a bad permission fails with exit 1 naming the file, line and key, and nothing is applied', async () => {
    const bad = [
      'kind: Permission',
      'name: broken',
      'actions: [describe, read-online]',
      'policy: { roles: [a] }',
      '---',
      'kind: Permission',
      'name: nobody',
      'actions: [describe]',
      'policy: {}',
      '',
    ].join('\n');
    writeFileSync(file, bad);
    const loadError = await larder(['apply'], repo);
    expect(loadError.code).toBe(1);
    expect(loadError.stderr).toMatch(/permissions\.yaml:3:\d+: actions\[1\]: 'read-online' is not one of describe, create, update/);
    writeFileSync(file, bad.replace('read-online', 'read_online'));
    const validationError = await larder(['apply'], repo);
    expect(validationError.code).toBe(1);
    expect(validationError.stderr).toMatch(/permissions\.yaml:9:1: policy: permission 'nobody' names no one/);
    expect(json<{ name: string }[]>(await larder(['list', 'permissions', '-o', 'json'], repo)).map((p) => p.name)).toEqual(['everyone-describes']);
  });
});

describe('permissions through a running registry service', () => {
  const repo = path.join(work, 'remote');
  let registry: RunningLarderApp;

  beforeAll(async () => {
    registry = await startLarderApp({
      app: 'registry',
      startTimeoutMs: 30_000,
      env: { LARDER_REGISTRY_LOCATION: path.join(work, 'service-registry.json'), LARDER_METRICS_ENABLED: 'false', LARDER_SHUTDOWN_GRACE_PERIOD: '2s' },
    });
    expect((await larder(['init', 'remote', '-q'], work)).code).toBe(0);
    writeFileSync(path.join(repo, 'permissions.yaml'), PERMISSIONS);
    const config = path.join(repo, 'larder.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/registry:\n {2}path: data\/registry\.db/, `registry:\n  address: ${registry.address}`));
  });

  afterAll(async () => {
    await registry.stop();
  });

  test('apply, list and describe reach the service', async () => {
    const applied = await larder(['apply', '-q'], repo);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^\+\s+permission\s+team-risk-readers\s*$/m);
    const [listed, described] = await Promise.all([
      larder(['list', 'permissions'], repo),
      larder(['describe', 'permission', 'everyone-describes', '-o', 'json'], repo),
    ]);
    expect(listed.stdout).toMatch(/^team-risk-readers\s+feature_view,feature_service\s/m);
    expect(json<{ actions: string[]; policy: { any_authenticated: boolean } }>(described)).toMatchObject({
      actions: ['describe'],
      policy: { any_authenticated: true },
    });
  });
});
