// Every command's output reaches a reader on a pipe in full, however slowly it reads:
// the CLI must not exit before stdout has drained.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, runLarderCli as larder } from '@larder/testing';

jest.setTimeout(180_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-flush-'));
const repo = path.join(work, 'big_repo');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * `larder ARGS | (sleep 3; cat) > out` in bash with pipefail: the reader starts only after
 * the CLI has filled the pipe buffer, which with an early exit cut the output to 64 KiB.
 */
function larderToSlowReader(args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: Buffer }> {
  const out = path.join(work, 'piped.out');
  const quoted = [path.join(REPO_ROOT, 'node_modules/.bin/tsx'), path.join(REPO_ROOT, 'apps/cli/src/main.ts'), ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(' ');
  const child = spawn('bash', ['-c', `set -o pipefail; ${quoted} | (sleep 3; cat) > '${out}'`], {
    cwd,
    env: { ...process.env, LARDER_REGISTRY: '' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout: readFileSync(out) })));
}

test('a dump of more than 1 MB reaches a slow reader on a pipe in full', async () => {
  expect((await larder(['init', 'big_repo'], work)).code).toBe(0);
  const views: string[] = [];
  for (let v = 0; v < 250; v++) {
    const schema = Array.from(
      { length: 30 },
      (_, f) =>
        `  - name: feature_${f}\n    value_type: double\n    description: Feature number ${f} of view ${v}, described at some length so the dump grows.`,
    );
    views.push(
      ['---', 'kind: FeatureView', `name: big_view_${v}`, 'entities: [driver]', 'schema:', ...schema, 'batch_source: driver_stats_source', ''].join('\n'),
    );
  }
  appendFileSync(path.join(repo, 'driver_stats.yaml'), `\n${views.join('')}`);
  // The views' features are not columns of the sample data: skip the source check.
  const applied = await larder(['apply', '--skip-source-check'], repo);
  expect(applied.code).toBe(0);

  const { code, stdout } = await larderToSlowReader(['registry-dump'], repo);
  expect(stdout.length).toBeGreaterThan(1024 * 1024);
  const dump = JSON.parse(stdout.toString('utf8')) as { projects: { feature_views?: unknown[] }[] };
  expect(code).toBe(0);
  expect(JSON.stringify(dump)).toContain('big_view_249');
});
