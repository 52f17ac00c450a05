// The lint rules that guard the repo's structure, run through ESLint's Node API with the
// repo's own eslint.config.mjs on code that must fail (tools/lint-fixtures, which the
// normal lint and tsc leave out). If a resolver or a tag stops working, these rules would
// otherwise pass silently on every real file.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createProjectGraphAsync } from '@nx/devkit';
import { ESLint } from 'eslint';
import type { Linter } from 'eslint';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'tools', 'lint-fixtures');
let eslint: ESLint;

beforeAll(async () => {
  // The boundary rule reads nx's cached project graph; make sure it is there and current.
  await createProjectGraphAsync({ exitOnError: false });
  // ignore: false lints the fixtures, which the config's ignores keep out of `eslint .`.
  eslint = new ESLint({ cwd: root, ignore: false });
});

const messages = (results: ESLint.LintResult[], rule: string): Linter.LintMessage[] => results.flatMap((r) => r.messages).filter((m) => m.ruleId === rule);

/** Lints a fixture's text as though it were the file at `asFile` (a real file of the project it pretends to be in). */
async function lintAs(fixture: string, asFile: string): Promise<ESLint.LintResult[]> {
  return eslint.lintText(readFileSync(path.join(fixtures, fixture), 'utf8'), { filePath: path.join(root, asFile) });
}

test('import-x/no-cycle follows extensionless .ts imports: a.ts -> ./b -> ./a is reported', async () => {
  const results = await eslint.lintFiles([path.join(fixtures, 'cycle', 'a.ts'), path.join(fixtures, 'cycle', 'b.ts')]);
  const cycles = messages(results, 'import-x/no-cycle');
  expect(cycles.map((m) => m.message)).toEqual([expect.stringMatching(/cycle/i), expect.stringMatching(/cycle/i)]);
  expect(results.every((r) => r.messages.filter((m) => m.ruleId === 'import-x/no-cycle').length === 1)).toBe(true);
});

test('the fixtures stay out of the normal lint run', async () => {
  const normal = new ESLint({ cwd: root });
  expect(await normal.isPathIgnored(path.join(fixtures, 'cycle', 'a.ts'))).toBe(true);
});

test('the domain model (libs/core) importing the gRPC layer breaks the module boundaries', async () => {
  const found = messages(await lintAs('boundary/core-imports-rpc.ts', 'libs/core/src/index.ts'), '@nx/enforce-module-boundaries');
  expect(found.map((m) => m.message)).toEqual([
    expect.stringContaining('A project tagged with "layer:core" can only depend on libs tagged with "type:proto", "type:testing"'),
  ]);
});

test('a store importing the gRPC layer (@larder/rpc) breaks the module boundaries', async () => {
  const found = messages(await lintAs('boundary/store-imports-rpc.ts', 'libs/online-store/src/index.ts'), '@nx/enforce-module-boundaries');
  expect(found.map((m) => m.message)).toEqual([expect.stringContaining('A project tagged with "type:store" can only depend on libs tagged with')]);
  expect(found[0]!.message).not.toContain('type:rpc');
});

// Test code too: a service's specs run a real registry through @larder/registry-service,
// so no spec, harness or profiling script of an app has a reason to import an app.
test.each([
  'apps/online-serving/src/service.ts',
  'apps/online-serving/src/testing.ts',
  'apps/offline-retrieval/src/testing/harness.ts',
  'apps/materialization/src/replicas.spec.ts',
  'apps/materialization/src/scripts/stages.ts',
])('an app importing another app breaks the module boundaries (%s)', async (asFile) => {
  const found = messages(await lintAs('boundary/app-imports-app.ts', asFile), '@nx/enforce-module-boundaries');
  expect(found.map((m) => m.message)).toEqual([expect.stringContaining('A project tagged with "type:app" can only depend on libs tagged with')]);
});

test("a relative path into another project's source is refused at any depth", async () => {
  const found = messages(await lintAs('boundary/deep-relative.ts', 'apps/materialization/src/scripts/stages.ts'), '@nx/enforce-module-boundaries');
  expect(found.map((m) => m.message)).toEqual([expect.stringContaining('Projects cannot be imported by a relative or absolute path')]);
});
