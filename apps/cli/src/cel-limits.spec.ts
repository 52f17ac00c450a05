// A CEL bomb in a feature repo is refused by `larder plan` before anything is applied,
// pointed at the file, line and key, in well under a second of CEL work.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT as repoRoot } from '@larder/testing';

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const main = path.join(repoRoot, 'apps/cli/src/main.ts');
const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-cel-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
jest.setTimeout(120_000);

function larder(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tsx, [main, ...args], { cwd, env: { ...process.env, LARDER_REGISTRY: '' }, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr });
    });
  });
}

const literal = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;

test('plan refuses nested comprehensions, huge and deeply nested expressions, naming file, line and key', async () => {
  expect((await larder(['init', 'repo', '-q'], work)).code).toBe(0);
  const dir = path.join(work, 'repo');
  writeFileSync(
    path.join(dir, 'bombs.yaml'),
    [
      'kind: OnDemandFeatureView',
      'name: bombs',
      'sources:',
      '  - request_source: vals_to_add',
      'outputs:',
      '  - name: nested',
      '    value_type: bool',
      `    expression: "${literal(200)}.all(a, ${literal(200)}.all(b, a != b))"`,
      '  - name: deep',
      '    value_type: int64',
      `    expression: "${Array.from({ length: 300 }, () => '1').join(' + ')}"`,
      '  - name: huge',
      '    value_type: bool',
      `    expression: "${literal(20_000)}.size() > 0"`,
      '',
    ].join('\n'),
  );
  const run = await larder(['plan', '-q', '--skip-source-check'], dir);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(
    /bombs\.yaml:8:\d+: outputs\[0\]\.expression: .*output 'nested': the expression may cost up to [\d,]+ units per row .*more than the limit of 400,000/,
  );
  expect(run.stderr).toMatch(/bombs\.yaml:11:\d+: outputs\[1\]\.expression: .*output 'deep': the expression nests more than 100 levels deep/);
  expect(run.stderr).toMatch(
    /bombs\.yaml:14:\d+: outputs\[2\]\.expression: .*output 'huge': the expression is \d+ characters long, more than the limit of 4096/,
  );
});
