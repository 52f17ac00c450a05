import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FeatureRepoError, readRepoConfig, type FeatureRepoProblem } from './index';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A folder with these files and nothing else. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'larder-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function problemsOf(dir: string): Promise<FeatureRepoProblem[]> {
  const error: unknown = await readRepoConfig(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FeatureRepoError);
  return [...(error as FeatureRepoError).problems];
}

describe('readRepoConfig', () => {
  it('reads larder.yaml with defaults and absolute paths, ignoring the definitions', async () => {
    const dir = folder({
      'larder.yaml': 'project: rides\nregistry:\n  path: state/registry.json\n',
      // Broken definitions do not matter: only larder.yaml is read.
      'broken.yaml': 'kind: Entity\nname: [unclosed\n',
    });
    await expect(readRepoConfig(dir)).resolves.toEqual({
      repoPath: dir,
      project: 'rides',
      registry: { kind: 'file', path: path.join(dir, 'state/registry.json') },
      onlineStore: { type: 'sqlite', path: path.join(dir, 'data/online_store.db') },
      offlineStore: { type: 'duckdb' },
      services: {},
    });
  });

  it('resolves a relative folder and reads registry addresses and URLs', async () => {
    const dir = folder({ 'larder.yaml': 'project: rides\nregistry:\n  address: registry.ml:6565\n' });
    const config = await readRepoConfig(path.relative(process.cwd(), dir));
    expect(config.repoPath).toBe(dir);
    expect(config.registry).toEqual({ kind: 'remote', address: 'registry.ml:6565' });
    const pg = folder({ 'larder.yaml': 'project: rides\nregistry:\n  postgres: postgresql://u@db/larder\n' });
    expect((await readRepoConfig(pg)).registry).toEqual({ kind: 'postgres', url: 'postgresql://u@db/larder' });
  });

  it('names the line and key of each problem', async () => {
    const dir = folder({ 'larder.yaml': 'project: -rides\nregistry:\n  url: mysql://db\nonline_store:\n  type: redis\n' });
    const problems = await problemsOf(dir);
    expect(problems).toEqual([
      expect.objectContaining({
        file: 'larder.yaml',
        line: 1,
        column: 1,
        key: 'project',
        message: expect.stringMatching(/'-rides' is not a valid project name: use letters, digits, underscores and hyphens/),
      }),
    ]);
    // Feast's names are Larder's: capitals and hyphens are fine.
    expect((await readRepoConfig(folder({ 'larder.yaml': 'project: Larder-Compat\n' }))).project).toBe('Larder-Compat');
    // Per-type requirements, checked once the shape is right.
    const typed = await problemsOf(folder({ 'larder.yaml': 'project: rides\nregistry:\n  url: mysql://db\nonline_store:\n  type: redis\n' }));
    expect(typed).toEqual([
      expect.objectContaining({ line: 3, key: 'registry.url', message: "expected a postgresql:// URL, got 'mysql://db'" }),
      expect.objectContaining({ line: 4, key: 'online_store', message: "missing required key 'url' for a redis online store" }),
    ]);
  });

  it('reports invalid YAML at its line, and a missing larder.yaml', async () => {
    const problems = await problemsOf(folder({ 'larder.yaml': 'project: rides\nregistry: [\n' }));
    expect(problems[0]).toEqual(expect.objectContaining({ file: 'larder.yaml', message: expect.stringMatching(/^invalid YAML/) }));
    expect(problems[0]?.line).toBeGreaterThanOrEqual(2);
    const missing = folder({});
    await expect(readRepoConfig(missing)).rejects.toThrow(`no larder.yaml in ${missing}`);
  });
});
