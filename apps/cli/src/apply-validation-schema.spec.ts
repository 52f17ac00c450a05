// `larder plan` / `larder apply` refuse a view's TFDV schema that cannot apply to the
// view (a feature it does not have, a domain that does not fit the value type), naming
// the file, line and key: in the schema.pbtxt the view points at, or in the YAML for
// an inline schema. Nothing stored changes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './cli';

jest.setTimeout(120_000);

/** The CLI in this process (no process start per command). */
async function larder(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t), errIsTty: false, cwd, env: {} });
  return { code, stdout, stderr };
}

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-tfdv-schema-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TAGS = 'tags:\n  team: driver_performance\n---\nkind: PushSource';
const GOOD = 'feature {\n  name: "conv_rate"\n  type: FLOAT\n  float_domain {\n    min: 0.0\n    max: 1.0\n  }\n}\n';
const BAD = `${GOOD}feature {\n  name: "tips"\n  type: FLOAT\n}\nfeature {\n  name: "avg_daily_trips"\n  string_domain {\n    value: "many"\n  }\n}\n`;

test('a schema naming a missing feature or with a misfit domain is refused at its file, line and key; the stored view stays', async () => {
  expect((await larder(['init', 'repo', '-q'], work)).code).toBe(0);
  const repo = path.join(work, 'repo');
  const yamlFile = path.join(repo, 'driver_stats.yaml');
  const original = readFileSync(yamlFile, 'utf8');
  expect(original).toContain(TAGS);
  const withValidation = (validation: string) => writeFileSync(yamlFile, original.replace(TAGS, TAGS.replace('---', `${validation}---`)));
  mkdirSync(path.join(repo, 'schemas'));
  const schemaFile = path.join(repo, 'schemas', 'driver.pbtxt');
  writeFileSync(schemaFile, GOOD);
  withValidation('validation:\n  schema_file: schemas/driver.pbtxt\n');
  const applied = await larder(['apply', '-q', '--skip-source-check'], repo);
  expect([applied.code, applied.stderr]).toEqual([0, '']);

  writeFileSync(schemaFile, BAD);
  for (const command of ['plan', 'apply']) {
    const run = await larder([command, '-q', '--skip-source-check'], repo);
    expect(run.code).toBe(1);
    expect(run.stderr.split('\n').slice(0, 3)).toEqual([
      `error: the feature repo ${repo} has 2 problems:`,
      "  schemas/driver.pbtxt:10:3: feature[1].name: feature view 'driver_hourly_stats' has a validation schema " +
        "naming feature 'tips', which the view does not have; its features are conv_rate, acc_rate, avg_daily_trips",
      "  schemas/driver.pbtxt:15:3: feature[2].string_domain: feature view 'driver_hourly_stats' has a validation " +
        "schema giving feature 'avg_daily_trips' a string_domain, which does not fit its value type int64: " +
        'string_domain describes string and bytes features',
    ]);
  }

  // The same schema inline: the position is the YAML key.
  withValidation('validation:\n  schema:\n    feature:\n      - name: conv_rate\n        string_domain: { value: [high] }\n');
  const inline = await larder(['plan', '-q', '--skip-source-check'], repo);
  expect(inline.code).toBe(1);
  const line = readFileSync(yamlFile, 'utf8').split('\n').indexOf('        string_domain: { value: [high] }') + 1;
  expect(inline.stderr.split('\n')[1]).toBe(
    `  driver_stats.yaml:${line}:9: validation.schema.feature[0].string_domain: feature view 'driver_hourly_stats' ` +
      `has a validation schema giving feature 'conv_rate' a string_domain, which does not fit its value type float: ` +
      `string_domain describes string and bytes features`,
  );

  // What was applied first is still what the registry holds.
  writeFileSync(schemaFile, GOOD);
  withValidation('validation:\n  schema_file: schemas/driver.pbtxt\n');
  const again = await larder(['apply', '--skip-source-check'], repo);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/is up to date \(\d+ objects unchanged\)/);
});
