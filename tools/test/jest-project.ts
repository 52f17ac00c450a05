// The command behind every project's nx `test` (and `test-tz`) target: jest on one jest
// project, with what our suites need whoever starts it (`npm test`, `nx affected -t test`,
// `nx test rpc -- -t 'deadline'`). Extra arguments go to jest.
//
// - NODE_OPTIONS gains --experimental-vm-modules: @google-cloud/bigquery loads the ESM-only
//   node-fetch with a dynamic import(), which jest supports only with VM modules.
// - With LARDER_TEST_RESULTS_DIR set (npm test sets it, one folder per run), jest's --json
//   summary goes to <dir>/<project>.<target>.json, where the runner adds up every suite.
//   Concurrent `npm test` runs in one checkout each have their own folder.
// - One jest worker: nx already runs several projects at once (`--parallel`), and a second
//   worker per project would only fight them for the same two cores.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const [project, ...rest] = process.argv.slice(2);
if (project === undefined || project.startsWith('-')) {
  process.stderr.write('usage: tsx tools/test/jest-project.ts <jest project> [jest args...]\n');
  process.exit(2);
}

const args = ['--selectProjects', project, '--maxWorkers=1', ...rest];
const resultsDir = process.env['LARDER_TEST_RESULTS_DIR'];
if (resultsDir !== undefined && resultsDir !== '') {
  const target = process.env['NX_TASK_TARGET_TARGET'] ?? 'test';
  args.unshift('--json', `--outputFile=${path.join(resultsDir, `${project}.${target}.json`)}`);
}

function jestNodeOptions(current: string | undefined): string {
  const flags = ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'];
  const have = new Set((current ?? '').split(/\s+/));
  return [current, ...flags.filter((flag) => !have.has(flag))].filter((part) => part !== undefined && part !== '').join(' ');
}

const child = spawn(path.join(root, 'node_modules', '.bin', 'jest'), args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_OPTIONS: jestNodeOptions(process.env['NODE_OPTIONS']) },
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (signal === 'SIGKILL' ? 9 : 15))));
