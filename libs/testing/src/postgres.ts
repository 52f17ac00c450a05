import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';
import { locatePostgres, type PostgresInstall } from './prerequisites';
import { sharedSupervisor, waitUntil, type ManagedProcess, type Supervisor } from './supervisor';

export interface PostgresOptions {
  /** Defaults to the PostgreSQL 15 binaries found on this machine (see ensurePrerequisites). */
  install?: PostgresInstall;
  supervisor?: Supervisor;
  port?: number;
  timeoutMs?: number;
}

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  database: string;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, no password) */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const USER = 'postgres';
const DATABASE = 'postgres';

/**
 * A throwaway PostgreSQL cluster: initdb into a temp folder, then the postmaster on
 * 127.0.0.1 with trust auth and its unix socket in that folder. Durability is switched
 * off (fsync, full pages) because the data dies with the run.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  const install = options.install ?? locatePostgres();
  if (install === undefined) throw new Error('PostgreSQL binaries not found: run `npm test`, which checks for them');
  const supervisor = options.supervisor ?? sharedSupervisor();
  const host = '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dir = supervisor.makeDir(`postgres-${port}`, install.owner);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const env = { ...process.env, HOME: dir, LC_ALL: 'C', TZ: 'UTC' };
  const owner = install.owner === undefined ? {} : { owner: install.owner };

  const initdb = supervisor.spawn({
    name: 'initdb',
    command: path.join(install.binDir, 'initdb'),
    args: ['-D', dataDir, '-U', USER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    cwd: dir,
    env,
    logFile,
    ...owner,
  });
  const initdbCode = await initdb.exited;
  if (initdbCode !== 0) throw new Error(`initdb failed (exit ${initdbCode}):\n${initdb.logTail()}`);
  await initdb.stop(0);

  const proc = supervisor.spawn({
    name: `postgres:${port}`,
    command: path.join(install.binDir, 'postgres'),
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      `listen_addresses=${host}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'log_min_messages=warning',
    ],
    cwd: dir,
    env,
    logFile,
    // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
    stopSignal: 'SIGINT',
    ...owner,
  });
  const url = `postgres://${USER}@${host}:${port}/${DATABASE}`;
  try {
    await waitUntil(() => answersQuery(url), {
      what: `postgres on ${host}:${port}`,
      timeoutMs: options.timeoutMs ?? 30_000,
      process: proc,
      intervalMs: 150,
    });
  } catch (error) {
    await proc.stop(0);
    throw error;
  }
  return { host, port, user: USER, database: DATABASE, url, process: proc, stop: () => proc.stop() };
}

async function answersQuery(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ ok: number }>('SELECT 1 AS ok');
    return result.rows[0]?.ok === 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}
