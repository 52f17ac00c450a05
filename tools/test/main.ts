// `npm test`: installs what the real-service tests need, starts Redis, PostgreSQL, Kafka
// and a BigQuery emulator on loopback once, runs every project's nx targets against them,
// prints "N passed, N failed" and stops everything, also on failure, Ctrl-C or a crash.
//
// Without arguments (CI): one `nx run-many` over typecheck, lint, build (the UI bundle),
// contracts (proto:check), test and test-tz, so nx overlaps the projects' checks and
// suites on both cores and replays cached checks. Each static task counts as one check;
// each jest run counts its tests (tools/test/jest-project.ts writes its --json summary
// into this run's folder). test-tz reruns the suites where time logic meets an engine
// (offline-store, offline-retrieval, materialization, ingestion) under
// TZ=America/St_Johns: west of UTC, a half-hour offset and DST in one zone, so code that
// reads the machine's zone fails here on a UTC machine too. LARDER_TEST_NX_PROJECTS=a,b runs
// that same pipeline over some projects only.
//
// With arguments they go to one jest run: `npm test -- libs/rpc`, `npm test -- --selectProjects
// testing`; the static checks still run first through nx (cached, so cheap when nothing
// changed) unless LARDER_TEST_SKIP_CHECKS=1, and the time-zone rerun follows when the
// arguments select one of those suites.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
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
    const checks = skipChecks() ? [] : STATIC_TARGETS;
    if (checks.length === 0) say('static checks skipped (LARDER_TEST_SKIP_CHECKS=1)');

    if (jestArgs.length === 0) {
      // The browser tests and the bundle budget read apps/ui/dist: ui:test depends on ui:build.
      const targets = [...checks, 'build', 'test', 'test-tz'];
      // LARDER_TEST_NX_PROJECTS=core,sdk: the same pipeline over some projects only.
      const only = process.env['LARDER_TEST_NX_PROJECTS'];
      const projects = only === undefined || only === '' ? [] : ['-p', only];
      if (!shuttingDown)
        await phase(`nx run-many -t ${targets.join(' ')}`, () => runNx(['run-many', '-t', ...targets, ...projects, `--parallel=${PARALLEL}`], running, tally));
    } else {
      if (!shuttingDown && checks.length > 0)
        await phase('static checks (nx)', () => runNx(['run-many', '-t', ...checks, `--parallel=${PARALLEL}`], running, tally));
      if (!shuttingDown) await phase('ui build (nx)', () => runNx(['run', 'ui:build'], running, tally));
      if (!shuttingDown) await phase('jest', () => runJest(jestArgs, running, tally));
      const args = zoneRunArgs(jestArgs);
      if (!shuttingDown && args !== undefined) await phase(`jest under TZ=${ZONE}`, () => runJest(args, running, tally, { TZ: ZONE }));
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

/** Checks counted one each per project: tsc, eslint, prettier --check, and proto:check (the proto project's). */
const STATIC_TARGETS = ['typecheck', 'lint', 'format', 'contracts'];

/**
 * Tasks nx runs at once. The suites spend much of their time waiting on Kafka, PostgreSQL
 * and the child processes they start, so three share two cores well; more made the
 * CPU-bound ones (tsc, eslint, the CLI's process-per-command specs) slower in total.
 */
const PARALLEL = Number(process.env['LARDER_TEST_PARALLEL'] ?? '3');

interface ProfileEvent {
  name?: string;
  ph?: string;
  dur?: number;
  args?: { target?: { project: string; target: string }; status?: string };
}

let nxRuns = 0;

/**
 * Runs nx with the services' environment and adds its tasks to the tally: a jest task
 * counts the tests in its --json summary, any other task counts as one check. NX_PROFILE
 * (nx's own task profile, one file per call) tells which tasks ran and how each ended.
 */
async function runNx(args: string[], running: RunningTestServices, tally: Tally): Promise<void> {
  const dir = path.join(running.supervisor.root, `nx-${++nxRuns}`);
  mkdirSync(dir, { recursive: true });
  const profile = path.join(dir, 'profile.json');
  const env = {
    ...process.env,
    ...running.env,
    LARDER_TEST_RESULTS_DIR: dir,
    // nx resolves the profile's path against its working directory.
    NX_PROFILE: path.relative(root, profile),
    NX_TUI: 'false',
    // No daemon left behind by a test run; CI has none either.
    NX_DAEMON: 'false',
  };
  const code = await runStep(bin('nx'), [...args, '--outputStyle=static'], { cwd: root, env, onStart: adopt });
  if (shuttingDown) return;
  const events = readJson<ProfileEvent[]>(profile);
  if (events === undefined) {
    say(`nx ran no tasks (exit ${code}): counted as one failure`);
    tally.failed += 1;
    return;
  }
  const before = { ...tally };
  const lines: string[] = [];
  for (const event of events) {
    const target = event.args?.target;
    if (event.ph !== 'X' || target === undefined) continue;
    const status = event.args?.status ?? 'unknown';
    const ok = status === 'success' || status.includes('cache');
    const took = `${seconds((event.dur ?? 0) / 1000)}${status.includes('cache') ? ' (cached)' : ''}`;
    if (target.target === 'test' || target.target === 'test-tz') {
      const summary = readJson<JestSummary>(path.join(dir, `${target.project}.${target.target}.json`));
      if (summary === undefined) {
        tally.failed += 1;
        lines.push(`${event.name}: jest wrote no results (${status}): counted as one failure, ${took}`);
        continue;
      }
      const passed = summary.numPassedTests ?? 0;
      // A failure outside any test (a suite that does not load) still fails the task.
      const failed = Math.max((summary.numFailedTests ?? 0) + (summary.numRuntimeErrorTestSuites ?? 0), ok ? 0 : 1);
      tally.passed += passed;
      tally.failed += failed;
      lines.push(`${event.name}: ${passed} passed, ${failed} failed, ${took}`);
    } else {
      if (ok) tally.passed += 1;
      else tally.failed += 1;
      lines.push(`${event.name}: ${ok ? 'passed' : `FAILED (${status})`}, ${took}`);
    }
  }
  for (const line of lines.sort()) say(line);
  const counted = tally.passed + tally.failed - before.passed - before.failed;
  if (code !== 0 && tally.failed === before.failed) {
    say(`nx exited with code ${code} without a failing task: counted as one failure`);
    tally.failed += 1;
  }
  say(`nx: ${counted} counted (${tally.passed - before.passed} passed, ${tally.failed - before.failed} failed)`);
}

/** The zone test-tz (nx.json) and the targeted rerun use: west of UTC, a half-hour offset, DST. */
const ZONE = 'America/St_Johns';
/** jest project names (folder names) of the suites rerun under ZONE (their test-tz target). */
const ZONE_PROJECTS = ['offline-store', 'offline-retrieval', 'materialization', 'ingestion'];
const ZONE_PROJECT_DIRS = ['libs/offline-store', 'apps/offline-retrieval', 'apps/materialization', 'apps/ingestion'];

/**
 * jest arguments for a rerun under another zone: the caller's, narrowed to ZONE_PROJECTS;
 * undefined when the caller's selection holds none of their tests (`npm test -- libs/rpc`
 * should not pay for another jest start).
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
  const summary = readJson<JestSummary>(outputFile);
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

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
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
