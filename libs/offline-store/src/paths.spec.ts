// Path confinement and DuckDB's lock-down, on the real engine and a real file system.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBOfflineStore } from './duckdb-store';
import { PathDeniedError } from './errors';
import { checkMatches, confinePath, resolveRoots } from './paths';

let base: string;
let root: string;
let out: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'larder-paths-'));
  root = join(base, 'root');
  out = join(base, 'out');
  mkdirSync(join(root, 'data'), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(out, 'secret.csv'), 'a\n1\n');
  symlinkSync(join(out, 'secret.csv'), join(root, 'data', 'link.csv'));
  symlinkSync(join(out, 'not-yet.csv'), join(root, 'dangling.csv'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

const roots = () => resolveRoots({ read: [root], write: join(root, 'results') });

function denied(work: () => unknown): PathDeniedError {
  try {
    work();
  } catch (error) {
    if (error instanceof PathDeniedError) return error;
    throw error;
  }
  throw new Error('expected PathDeniedError');
}

describe('confinePath', () => {
  it('keeps paths under the root, relative ones from the given working directory', () => {
    expect(confinePath('f', join(root, 'data', 'x.parquet'), roots(), 'read')).toBe(join(root, 'data', 'x.parquet'));
    expect(confinePath('f', 'data/x.parquet', roots(), 'read', root)).toBe(join(root, 'data', 'x.parquet'));
    expect(confinePath('f', join(root, 'data', '*.parquet'), roots(), 'read')).toBe(join(root, 'data', '*.parquet'));
  });

  it('refuses .., symlinks (also dangling ones) and globs leading out, naming the roots', () => {
    const climb = denied(() => confinePath('entity_source.file.path', `${root}/data/../../out/secret.csv`, roots(), 'read'));
    expect(climb.message).toBe(`entity_source.file.path: '${root}/data/../../out/secret.csv' is outside the read root '${root}'`);
    denied(() => confinePath('f', join(root, 'data', 'link.csv'), roots(), 'read'));
    // Writing through a dangling link would create the file where it points.
    denied(() => confinePath('f', join(root, 'dangling.csv'), roots(), 'read'));
    denied(() => confinePath('f', `${root}/*/../../out/*.csv`, roots(), 'read'));
    denied(() => confinePath('f', '/etc/passwd', roots(), 'read'));
    expect(denied(() => confinePath('f', 'http://127.0.0.1/x.parquet', roots(), 'read')).message).toContain('is a URL');
  });

  it('writes go under the write root only', () => {
    expect(confinePath('d', join(root, 'results', 'a.csv'), roots(), 'write')).toBe(join(root, 'results', 'a.csv'));
    expect(denied(() => confinePath('d', join(root, 'data', 'a.csv'), roots(), 'write')).message).toContain(
      `outside the write root '${join(root, 'results')}'`,
    );
  });

  it('checkMatches refuses a glob whose match is a symlink out, without naming its target', () => {
    const error = denied(() => checkMatches('f', `${root}/data/*.csv`, [join(root, 'data', 'link.csv')], roots(), 'read'));
    expect(error.message).not.toContain(out);
  });
});

describe('DuckDB with roots is locked down', () => {
  let store: DuckDBOfflineStore;
  beforeAll(async () => {
    store = await DuckDBOfflineStore.create({ roots: { read: [root], write: join(root, 'results') } });
  });
  afterAll(() => store.close());

  it('no SQL can change its settings', async () => {
    await expect(store.run('SET enable_external_access = true')).rejects.toThrow(/configuration has been locked/);
    await expect(store.run("SET allowed_directories = ['/']")).rejects.toThrow(/locked/);
    await expect(store.run("SELECT current_setting('autoinstall_known_extensions') AS v")).resolves.toEqual([{ v: false }]);
  });

  it('a registered DuckDB query cannot read outside the roots or fetch a URL', async () => {
    await expect(store.run(`SELECT * FROM read_csv('${join(out, 'secret.csv')}')`)).rejects.toThrow(/Permission Error/);
    await expect(store.run("SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')")).rejects.toThrow(/Permission Error/);
    const check = await store.verifySource(
      { name: 'q', location: { kind: 'query', query: "SELECT * FROM read_csv('/etc/passwd')" }, timestampField: 'ts' },
      [],
    );
    expect(check.relation).toMatch(/Permission Error/);
  });

  it('a stored source query that breaks out of its subquery is refused before any SQL runs', async () => {
    const breakout = 'SELECT 1 AS ts) AS a; CREATE TABLE pwned AS SELECT 1 AS x; SELECT * FROM (SELECT 1';
    await expect(store.verifySource({ name: 'q', location: { kind: 'query', query: breakout }, timestampField: 'ts' }, [])).rejects.toThrow(
      "source 'q' has a query that closes a parenthesis it never opened",
    );
    const tables = await store.run("SELECT table_name FROM information_schema.tables WHERE table_name = 'pwned'");
    expect(tables).toEqual([]);
  });
});
