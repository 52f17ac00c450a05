// `npm test`: installs what the real-service tests need, starts Redis, PostgreSQL, Kafka
// and a BigQuery emulator on loopback, runs the static checks and jest, prints
// "N passed, N failed" and stops everything, also on failure, Ctrl-C or a crash.
// Extra arguments go to jest: `npm test -- libs/rpc`, `npm test -- --selectProjects testing`.
// The suites where time logic meets an engine (offline-store, offline-retrieval,
// materialization, ingestion) then run twice more, under TZ=America/New_York (west of UTC)
// and TZ=Asia/Kolkata (a half-hour offset), so code that reads the machine's zone fails
// here on a UTC machine too; their counts are in the total.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePrerequisites, startTestServices, type RunningTestServices } from '@larder/testing';
import { runPythonClientTests } from './python';
import { runStep, stopRunningSteps } from './steps';

const root = path.resolve(__dirname, '..', '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

interface Tally {
  passed: number;
  failed: number;
}

interface JestSummary {
  numPassedTests?: number;
  numFailedTests?: number;
  numRuntimeErrorTestSuites?: number;
}

let services: RunningTestServices | undefined;
let shuttingDown = false;

async function main(): Promise<number> {
  const began = Date.now();
  const tally: Tally = { passed: 0, failed: 0 };
  const jestArgs = process.argv.slice(2);

  try {
    const prerequisites = await phase('prerequisites', () => ensurePrerequisites(say));
    const running = await phase('services', () => startTestServices(prerequisites, say));
    services = running;

    if (skipChecks()) {
      say('static checks skipped (LARDER_TEST_SKIP_CHECKS=1)');
    } else if (!shuttingDown) {
      await phase('static checks', () => runStaticChecks(tally));
    }
    // The browser tests and the bundle budget read apps/ui/dist: build it first, always.
    if (!shuttingDown) await phase('ui build', () => buildUi(tally));
    if (!shuttingDown) await phase('jest', () => runJest(jestArgs, running, tally));
    for (const zone of ZONES) {
      if (shuttingDown) break;
      const args = zoneRunArgs(jestArgs);
      if (args === undefined) break;
      await phase(`jest under TZ=${zone}`, () => runJest(args, running, tally, { TZ: zone }));
    }
    // The Python client's pytest suite against a store of its own (tools/test/python.ts); full runs only.
    if (!shuttingDown && jestArgs.length === 0) {
      const python = await phase('python client (pytest)', () => runPythonClientTests({ log: say, onStart: adopt }));
      tally.passed += python.passed;
      tally.failed += python.failed;
    }
  } catch (error) {
    if (!shuttingDown) {
      console.error(error instanceof Error ? error.message : error);
      tally.failed += 1;
    }
  }

  if (shuttingDown) {
    say('interrupted: counted as one failure');
    tally.failed += 1;
  }
  await stopServices();
  say(`total ${seconds(Date.now() - began)}`);
  console.log(`${tally.passed} passed, ${tally.failed} failed`);
  return tally.failed > 0 ? 1 : 0;
}

async function runStaticChecks(tally: Tally): Promise<void> {
  const checks: { name: string; command: string; args: string[] }[] = [
    { name: 'typecheck (tsc)', command: bin('tsc'), args: ['-p', 'tsconfig.json', '--noEmit'] },
    { name: 'lint (eslint)', command: bin('eslint'), args: ['.'] },
    // The web UI's front end has its own compiler settings (DOM, JSX).
    { name: 'typecheck (ui front end)', command: bin('tsc'), args: ['-p', 'apps/ui/src/web/tsconfig.json', '--noEmit'] },
  ];
  if (existsSync(path.join(root, 'tools', 'proto', 'check.ts'))) {
    checks.push({ name: 'proto:check', command: 'npm', args: ['run', '--silent', 'proto:check'] });
  }
  for (const check of checks) {
    if (shuttingDown) return;
    const began = Date.now();
    const code = await runStep(check.command, check.args, { cwd: root, env: process.env, onStart: adopt });
    const ok = code === 0;
    if (ok) tally.passed += 1;
    else tally.failed += 1;
    say(`check ${check.name}: ${ok ? 'passed' : `FAILED (exit ${code})`} in ${seconds(Date.now() - began)}`);
  }
}

/** The UI's production build (apps/ui/dist), counted as one check. */
async function buildUi(tally: Tally): Promise<void> {
  const began = Date.now();
  const code = await runStep(bin('tsx'), [path.join(root, 'apps', 'ui', 'src', 'build.ts')], { cwd: root, env: process.env, onStart: adopt });
  if (code === 0) tally.passed += 1;
  else tally.failed += 1;
  say(`ui build: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${seconds(Date.now() - began)}`);
}

/** One west of UTC, one with a half-hour offset: whole-hour and whole-day slips both show. */
const ZONES = ['America/New_York', 'Asia/Kolkata'];
/** jest project names (folder names) of the suites rerun under ZONES. */
const ZONE_PROJECTS = ['offline-store', 'offline-retrieval', 'materialization', 'ingestion'];
const ZONE_PROJECT_DIRS = ['libs/offline-store', 'apps/offline-retrieval', 'apps/materialization', 'apps/ingestion'];

/**
 * jest arguments for a rerun under another zone: the caller's, narrowed to ZONE_PROJECTS;
 * undefined when the caller's selection holds none of their tests (`npm test -- libs/rpc`
 * should not pay for three more jest starts).
 */
function zoneRunArgs(args: readonly string[]): string[] | undefined {
  const rest: string[] = [];
  let selected: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--selectProjects') {
      selected ??= [];
      while (i + 1 < args.length && !args[i + 1]!.startsWith('-')) selected.push(args[++i]!);
    } else {
      rest.push(arg);
    }
  }
  const projects = selected === undefined ? ZONE_PROJECTS : ZONE_PROJECTS.filter((p) => selected.includes(p));
  if (projects.length === 0) return undefined;
  // Positional arguments are jest's path patterns (flag values land here too, which can
  // only cause a rerun that finds nothing, never skip one that would find something).
  const patterns = rest.filter((arg) => !arg.startsWith('-'));
  if (patterns.length > 0 && !specFiles(ZONE_PROJECT_DIRS).some((file) => patterns.some((p) => matches(p, file)))) return undefined;
  return ['--selectProjects', ...projects, '--passWithNoTests', ...rest];
}

function matches(pattern: string, file: string): boolean {
  try {
    return new RegExp(pattern, 'i').test(file);
  } catch {
    return file.includes(pattern);
  }
}

function specFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.spec.ts')) out.push(full);
    }
  };
  for (const dir of dirs) if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return out;
}

async function runJest(args: string[], running: RunningTestServices, tally: Tally, env: Record<string, string> = {}): Promise<void> {
  const outputFile = path.join(running.supervisor.root, `jest-results${env['TZ'] ? `-${env['TZ'].replace(/\W/g, '_')}` : ''}.json`);
  const code = await runStep(bin('jest'), ['--json', `--outputFile=${outputFile}`, ...args], {
    cwd: root,
    env: { ...process.env, ...running.env, ...env, NODE_OPTIONS: jestNodeOptions() },
    onStart: adopt,
  });
  if (shuttingDown) return;
  const summary = readJestSummary(outputFile);
  if (summary === undefined) {
    say(`jest wrote no results (exit ${code}): counted as one failure`);
    tally.failed += 1;
    return;
  }
  const passed = summary.numPassedTests ?? 0;
  const failed = (summary.numFailedTests ?? 0) + (summary.numRuntimeErrorTestSuites ?? 0);
  tally.passed += passed;
  tally.failed += failed;
  if (env['TZ'] !== undefined) say(`under TZ=${env['TZ']}: ${passed} passed, ${failed} failed`);
  if (code !== 0 && failed === 0) {
    // e.g. "No tests found" for a path filter, or a failure outside any test.
    say(`jest exited with code ${code} without a failing test: counted as one failure`);
    tally.failed += 1;
  }
}

/**
 * @google-cloud/bigquery sends requests through teeny-request, which loads the ESM-only
 * node-fetch with a dynamic import(); jest supports that only with VM modules enabled.
 */
function jestNodeOptions(): string {
  const flags = ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'];
  return [process.env['NODE_OPTIONS'], ...flags].filter((flag) => flag !== undefined && flag !== '').join(' ');
}

function readJestSummary(file: string): JestSummary | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JestSummary;
  } catch {
    return undefined;
  }
}

let stopping: Promise<void> | undefined;

/** Idempotent: the signal handler and the normal path may both ask, one stop runs. */
function stopServices(): Promise<void> {
  stopping ??= (async () => {
    const running = services;
    if (running === undefined) return;
    const began = Date.now();
    await running.stop();
    say(`services stopped in ${seconds(Date.now() - began)}`);
  })();
  return stopping;
}

/** Steps run while services are up; the watchdog must kill them too if we die hard. */
function adopt(pgid: number): void {
  services?.supervisor.adoptGroup(pgid);
}

function skipChecks(): boolean {
  if (process.env['LARDER_TEST_SKIP_CHECKS'] !== '1') return false;
  if (process.env['CI'] === 'true') {
    say('LARDER_TEST_SKIP_CHECKS=1 ignored: CI always runs the static checks');
    return false;
  }
  return true;
}

async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  const began = Date.now();
  say(`== ${name}`);
  const result = await run();
  say(`== ${name} done in ${seconds(Date.now() - began)}`);
  return result;
}

function say(line: string): void {
  console.log(`[test] ${line}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function onSignal(signal: NodeJS.Signals): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  if (shuttingDown) return;
  shuttingDown = true;
  say(`${signal}: stopping tests and services`);
  void (async () => {
    await stopRunningSteps();
    await stopServices().catch((error: unknown) => console.error(error));
    process.exit(code);
  })();
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

main().then(
  (code) => {
    // After a signal, the handler exits once everything is stopped.
    if (!shuttingDown) process.exit(code);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
