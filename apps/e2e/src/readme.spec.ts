// README.md's commands, run as a reader runs them: `npm start` (tools/start.ts in a
// child process, on free ports, with HOME in a temporary folder), then every command
// of every ```sh block, each section in one bash session starting in a scratch copy of
// the checkout. Each command must exit 0; the quickstart's reads must return the
// sample data's values, and its training set must hold the point-in-time rows.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '@larder/testing';
import { SERVICE_NODE_FLAGS } from '@larder/rpc';

jest.setTimeout(150_000);

interface Command {
  section: string;
  /** Line in README.md where the command starts. */
  line: number;
  /** As written, continuation lines joined. */
  text: string;
}

/** Commands in ```sh blocks by `## ` section, continuation lines joined, comment lines left out. */
export function readmeCommands(markdown: string): Command[] {
  const commands: Command[] = [];
  let section = '';
  let inBlock = false;
  let pending: Command | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (!inBlock && line.startsWith('## ')) section = line.slice(3).trim();
    if (line.startsWith('```')) {
      inBlock = !inBlock && line.slice(3).trim() === 'sh';
      return;
    }
    if (!inBlock) return;
    if (pending === undefined) {
      if (line.trim() === '' || line.trim().startsWith('#')) return;
      pending = { section, line: index + 1, text: '' };
    }
    pending.text += line.endsWith('\\') ? `${line.slice(0, -1).trim()} ` : line.trim();
    if (!line.endsWith('\\')) {
      commands.push(pending);
      pending = undefined;
    }
  });
  return commands;
}

/** The command without its trailing comment, spaces collapsed: what the checks match on. */
const bare = (text: string): string =>
  text
    .replace(/\s+#.*$/, '')
    .replace(/\s+/g, ' ')
    .trim();

/** Commands this test does not run, and why. A changed README line is no longer skipped. */
const NOT_RUN = new Map([
  ['npm ci && npm start', 'the test starts tools/start.ts itself, on free ports'],
  ['npm ci && npm test', 'this test runs inside it'],
  ['npm run proto', 'rewrites libs/proto/src/gen; npm test runs proto:check'],
  ['npm run proto:check', 'npm test runs it'],
  // "Working with nx": nx finds projects by walking the workspace, and this test's scratch
  // checkout is symlinks to the real one, which nx's project discovery does not follow. Each
  // is run by npm test itself, or is a long-running or whole-suite command.
  ['npx nx run-many -t typecheck lint', 'npm test runs these targets of every project through nx run-many'],
  ['npm run format', 'rewrites files in place; npm test runs the same formatter as a check (the format target) through nx run-many'],
  ['npx nx test rpc -- -t deadline', "npm test runs every project's test target through nx run-many"],
  ['npx nx build ui', 'npm test runs ui:build through nx run-many'],
  ['npx nx generate proto', 'rewrites libs/proto/src/gen, as npm run proto; npm test runs the contracts check'],
  ['npx nx bench bench -- online', 'a benchmark of several minutes (npm run bench -- online)'],
  ['npm run services', 'starts the test services and keeps them running until interrupted'],
  ['npm run affected', 'starts the services and runs the affected suites: a second test run inside this one'],
  ['npm run affected -- --base=HEAD~1', 'as npm run affected'],
  [
    'pip install ./clients/python',
    "installs into the reader's Python; npm test builds and installs the same wheel for the client's pytest suite (tools/test/python.ts)",
  ],
]);

interface SampleRow {
  driver_id: bigint;
  event_timestamp: Date;
  created: Date;
  conv_rate: number;
  acc_rate: number;
  avg_daily_trips: bigint;
}

interface Run {
  command: Command;
  code: number;
  stdout: string;
  stderr: string;
  /** The session's folder after the command. */
  cwd: string;
}

const FEATURES = ['conv_rate', 'acc_rate', 'avg_daily_trips'] as const;

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-readme-'));
const home = path.join(work, 'home');
const quickstartDir = path.join(home, '.larder', 'quickstart');
// A scratch checkout: the real one's top-level entries as symlinks, so commands that
// write into the current folder (`larder init driver_stats`) write here.
const checkout = path.join(work, 'checkout');
let start: ChildProcess | undefined;
let startLog = '';
let duck: DuckDBInstance;

async function sql<T>(statement: string): Promise<T[]> {
  const connection = await duck.connect();
  try {
    return (await connection.runAndReadAll(statement)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
  }
}

/** The environment a reader's shell has: ours without Larder settings, npm's PATH additions or our HOME. */
function readerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('LARDER_') || key.startsWith('npm_')) continue;
    env[key] = value;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes(`node_modules${path.sep}.bin`))
    .join(path.delimiter);
  env['HOME'] = home;
  return env;
}

function startStore(): Promise<void> {
  const env = {
    ...readerEnv(),
    LARDER_QUICKSTART_DIR: quickstartDir,
    LARDER_GRPC_HOST: '127.0.0.1',
    LARDER_GRPC_PORT: '0',
    LARDER_METRICS_HOST: '127.0.0.1',
    LARDER_METRICS_PORT: '0',
    LARDER_HTTP_PORT: '0',
    LARDER_INGESTION_HTTP_PORT: '0',
    LARDER_LOG_LEVEL: 'warn',
  };
  // As package.json's start script runs it (deploy.spec.ts pins that script).
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', path.join(REPO_ROOT, 'tools/start.ts')], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  start = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not get ready within 60 s:\n${startLog}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      startLog += chunk.toString();
      if (startLog.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before it was ready:\n${startLog}`));
    });
  });
}

async function stopStore(): Promise<void> {
  const child = start;
  if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The whole group: tsx runs the script in a node child of its own.
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function prepareCheckout(): void {
  mkdirSync(checkout, { recursive: true });
  for (const entry of readdirSync(REPO_ROOT)) {
    if (entry === '.git') continue;
    symlinkSync(path.join(REPO_ROOT, entry), path.join(checkout, entry));
  }
}

/**
 * Runs one section's commands in one bash session (a `cd` or `export` carries on, as in
 * the reader's terminal), stopping at the first failure. `prefix` adds environment
 * assignments to a command, for what the reader's machine has and ours has not.
 */
function runSession(commands: readonly Command[], prefix: (command: Command) => string, index: number): Promise<Run[]> {
  const dir = path.join(work, `session-${index}`);
  mkdirSync(dir);
  const script = commands
    .map((command, i) =>
      [
        `{ ${prefix(command)}${command.text}`,
        `} > '${dir}/${i}.out' 2> '${dir}/${i}.err'`,
        `rc=$?; pwd > '${dir}/${i}.pwd'; echo $rc > '${dir}/${i}.rc'`,
        `[ "$rc" -eq 0 ] || exit "$rc"`,
      ].join('\n'),
    )
    .join('\n');
  writeFileSync(path.join(dir, 'script.sh'), `${script}\n`);
  return new Promise((resolve, reject) => {
    const bash = spawn('bash', [path.join(dir, 'script.sh')], { cwd: checkout, env: readerEnv(), stdio: 'ignore' });
    const timer = setTimeout(() => bash.kill('SIGKILL'), 100_000);
    bash.on('error', reject);
    bash.on('exit', () => {
      clearTimeout(timer);
      const read = (i: number, ext: string): string | undefined => {
        try {
          return readFileSync(path.join(dir, `${i}.${ext}`), 'utf8');
        } catch {
          return undefined;
        }
      };
      const runs: Run[] = [];
      commands.forEach((command, i) => {
        const rc = read(i, 'rc');
        if (rc === undefined) return;
        runs.push({ command, code: Number(rc.trim()), stdout: read(i, 'out') ?? '', stderr: read(i, 'err') ?? '', cwd: (read(i, 'pwd') ?? '').trim() });
      });
      resolve(runs);
    });
  });
}

/** Every sample row, for the expected values. */
async function sampleRows(): Promise<SampleRow[]> {
  return sql<SampleRow>(`SELECT * FROM read_parquet('${path.join(quickstartDir, 'data/driver_stats.parquet')}') ORDER BY driver_id, event_timestamp`);
}

/** What online serving holds after `npm start`: each driver's latest sample row. */
function latest(rows: readonly SampleRow[], driver: bigint): SampleRow {
  const mine = rows.filter((r) => r.driver_id === driver);
  return mine.reduce((a, b) => (b.event_timestamp > a.event_timestamp ? b : a));
}

/** The point-in-time row: the latest at or before `t`, within the view's 1-day ttl. */
function asOf(rows: readonly SampleRow[], driver: bigint, t: Date): SampleRow | undefined {
  const ttlMs = 24 * 3_600_000;
  return rows
    .filter((r) => r.driver_id === driver && r.event_timestamp <= t && r.event_timestamp.getTime() >= t.getTime() - ttlMs)
    .reduce<SampleRow | undefined>(
      (a, b) => (a === undefined || b.event_timestamp > a.event_timestamp || (+b.event_timestamp === +a.event_timestamp && b.created > a.created) ? b : a),
      undefined,
    );
}

/** The value of `--name value` or `--name=value` in a command line. */
function option(command: string, name: string): string | undefined {
  return new RegExp(`--${name}[ =](\\S+)`).exec(command)?.[1];
}

const driverIdsOf = (command: string): bigint[] =>
  (option(command, 'entity') ?? '')
    .replace(/^driver_id=/, '')
    .split(',')
    .map(BigInt);

interface Check {
  name: string;
  matches: (command: string) => boolean;
  /** Whether README.md must show such a command (the quickstart's own). */
  required: boolean;
  check: (run: Run, rows: readonly SampleRow[]) => Promise<void> | void;
}

const CHECKS: Check[] = [
  {
    name: 'an online read with the gRPC example client',
    matches: (c) => /^npx tsx examples\/online-read\.ts\b/.test(c),
    required: true,
    check: (run, rows) => {
      const ids = run.command.text
        .split(/\s+/)
        .slice(3)
        .filter((t) => /^\d+$/.test(t))
        .map(BigInt);
      expect(ids.length).toBeGreaterThan(0);
      const lines = new Map(
        run.stdout
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
      );
      for (const feature of FEATURES) {
        const cells = (lines.get(feature) ?? '').split('|').map((c) => c.trim());
        expect(cells).toHaveLength(ids.length);
        ids.forEach((id, i) => expect(cells[i]).toMatch(new RegExp(`^${String(latest(rows, id)[feature]).replace('.', '\\.')} PRESENT @ `)));
      }
    },
  },
  {
    name: 'an online read with the CLI',
    matches: (c) => /^(npx )?larder get-online-features /.test(c) && !c.includes('--feature-service'),
    required: true,
    check: (run, rows) => {
      const ids = driverIdsOf(run.command.text);
      const [header, ...body] = run.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/ {2,}/));
      expect(header).toEqual(['driver_id', ...FEATURES]);
      expect(body).toHaveLength(ids.length);
      body.forEach((cells, i) => {
        const expected = latest(rows, ids[i]!);
        expect(cells[0]).toBe(String(ids[i]));
        // The table prints floats as their shortest float32 decimal.
        expect(Math.fround(Number(cells[1]))).toBe(expected.conv_rate);
        expect(Math.fround(Number(cells[2]))).toBe(expected.acc_rate);
        expect(cells[3]).toBe(String(expected.avg_daily_trips));
      });
    },
  },
  {
    name: 'a training set with the CLI',
    matches: (c) => /^(npx )?larder get-historical-features /.test(c),
    required: true,
    check: async (run, rows) => {
      const entities = path.resolve(run.cwd, option(run.command.text, 'entities')!);
      const out = path.resolve(run.cwd, option(run.command.text, 'out')!);
      const events = await sql<{ driver_id: bigint; event_timestamp: Date; trip_completed: bigint }>(
        `SELECT driver_id::BIGINT AS driver_id, event_timestamp::TIMESTAMPTZ AS event_timestamp, trip_completed::BIGINT AS trip_completed FROM read_csv('${entities}')`,
      );
      expect(events.length).toBeGreaterThan(0);
      expect(run.stdout).toContain(`Wrote ${events.length} rows`);
      const training = await sql<Record<string, unknown>>(
        `SELECT driver_id, event_timestamp::TIMESTAMPTZ AS event_timestamp, trip_completed::BIGINT AS trip_completed, ${FEATURES.join(', ')} FROM read_parquet('${out}')`,
      );
      expect(training).toHaveLength(events.length);
      const expected = events.map((e) => {
        const row = asOf(rows, e.driver_id, e.event_timestamp);
        return { ...e, ...Object.fromEntries(FEATURES.map((f) => [f, row === undefined ? null : row[f]])) };
      });
      const key = (r: Record<string, unknown>): string => `${String(r['driver_id'])}@${(r['event_timestamp'] as Date).toISOString()}`;
      const sorted = (list: Record<string, unknown>[]): Record<string, unknown>[] => [...list].sort((a, b) => (key(a) < key(b) ? -1 : 1));
      expect(sorted(training)).toEqual(sorted(expected));
      // The sample covers every event: the join found a row for each.
      expect(training.every((r) => r['conv_rate'] !== null)).toBe(true);
    },
  },
  {
    name: 'an online read of a feature service with the CLI, request fields given',
    matches: (c) => /^larder get-online-features --feature-service driver_activity /.test(c),
    required: true,
    check: (run, rows) => {
      const ids = driverIdsOf(run.command.text);
      const request = (field: string): number[] => (new RegExp(`--entity ${field}=(\\S+)`).exec(run.command.text)?.[1] ?? '').split(',').map(Number);
      const [add1, add2] = [request('val_to_add'), request('val_to_add_2')];
      const [header, ...body] = run.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/ {2,}/));
      const at = (name: string): number => header!.indexOf(name);
      expect(header).toEqual(expect.arrayContaining(['driver_id', 'conv_rate', 'acc_rate', 'conv_rate_plus_val1', 'conv_rate_plus_val2']));
      expect(body).toHaveLength(ids.length);
      body.forEach((cells, i) => {
        const expected = latest(rows, ids[i]!);
        expect(cells[at('driver_id')]).toBe(String(ids[i]));
        expect(Math.fround(Number(cells[at('conv_rate')]))).toBe(expected.conv_rate);
        // conv_rate is a float; the on-demand view adds the request field in double.
        expect(Number(cells[at('conv_rate_plus_val1')])).toBeCloseTo(expected.conv_rate + add1[i]!, 6);
        expect(Number(cells[at('conv_rate_plus_val2')])).toBeCloseTo(expected.conv_rate + add2[i]!, 6);
      });
    },
  },
  {
    name: 'a new feature repo, in a folder outside the checkout',
    matches: (c) => /^larder init\b/.test(c),
    required: true,
    check: (run) => {
      // Where npx would look `larder` up on the npm registry: the command must not need the checkout as its folder.
      for (const checkoutDir of [checkout, REPO_ROOT]) expect(path.relative(checkoutDir, run.cwd).startsWith('..')).toBe(true);
      expect(readdirSync(path.join(run.cwd, option(run.command.text, 'dir') ?? run.command.text.split(/\s+/)[2] ?? 'driver_stats'))).toContain('larder.yaml');
    },
  },
  {
    name: 'listing the feature views of a new repo',
    matches: (c) => /^larder list feature-views$/.test(c),
    required: true,
    check: (run) => expect(run.stdout).toContain('driver_hourly_stats'),
  },
];

const commands = readmeCommands(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'));

beforeAll(async () => {
  duck = await DuckDBInstance.create(':memory:');
  await sql(`SET TimeZone = 'UTC'`);
  prepareCheckout();
  await startStore();
});

afterAll(async () => {
  await stopStore();
  duck?.closeSync();
  rmSync(work, { recursive: true, force: true });
});

test('README.md shows the quickstart: npm start, then online reads and a training set', () => {
  expect(commands.map((c) => bare(c.text))).toContain('npm ci && npm start');
  // Outside the checkout npx looks `larder` up on the npm registry; the README puts it on PATH instead.
  expect(commands.filter((c) => /\bnpx larder\b/.test(c.text)).map((c) => `README.md:${c.line}: ${c.text}`)).toEqual([]);
  const missing = CHECKS.filter((check) => check.required && !commands.some((c) => check.matches(bare(c.text)))).map((c) => c.name);
  expect(missing).toEqual([]);
});

test('npm start applied the quickstart repo and materialized its sample data', () => {
  expect(startLog).toContain('Larder is running.');
  expect(startLog).toMatch(/materialized into .*driver_hourly_stats \(5 rows\)/);
  expect(startLog).not.toContain('Quickstart not ready');
});

test('every command in README.md runs, and the quickstart reads return the sample data', async () => {
  const rows = await sampleRows();
  const onlineServing = (parseYaml(readFileSync(path.join(quickstartDir, 'larder.yaml'), 'utf8')) as { services: Record<string, string> }).services[
    'online_serving'
  ];
  // The example documents $LARDER_ONLINE_SERVING for a service off its default port, as here.
  const prefix = (command: Command): string =>
    /^npx tsx examples\/online-read\.ts\b/.test(bare(command.text)) ? `LARDER_ONLINE_SERVING=${onlineServing} ` : '';

  const runnable = commands.filter((c) => !NOT_RUN.has(bare(c.text)));
  const sections = [...new Set(runnable.map((c) => c.section))];
  const checked = new Set<string>();
  for (const [index, section] of sections.entries()) {
    const mine = runnable.filter((c) => c.section === section);
    const runs = await runSession(mine, prefix, index);
    for (const [i, command] of mine.entries()) {
      const run = runs[i];
      const where = `README.md:${command.line} (${section}): ${command.text}`;
      if (run === undefined) throw new Error(`${where}: not run, an earlier command of its section failed`);
      if (run.code !== 0) throw new Error(`${where}: exit code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
      for (const check of CHECKS.filter((c) => c.matches(bare(command.text)))) {
        try {
          await check.check(run, rows);
        } catch (error) {
          throw new Error(`${where}: ${check.name}: ${error instanceof Error ? error.message : String(error)}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
        }
        checked.add(check.name);
      }
    }
  }
  expect([...checked].sort()).toEqual(
    CHECKS.filter((c) => c.required || checked.has(c.name))
      .map((c) => c.name)
      .sort(),
  );
});
