import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { sharedSupervisor } from './supervisor';

/** The repository this lib lives in; apps are spawned from here by file path, never imported. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface LarderAppOptions {
  /** Folder name under apps/, e.g. 'registry'. */
  app: string;
  /** Added to (and overriding) process.env and the loopback defaults below. */
  env?: Readonly<Record<string, string>>;
  /** Where <app>/src/main.ts is; the repo's apps/ by default. */
  appsDir?: string;
  /** The child's working directory; the repo root by default. */
  cwd?: string;
  /** gRPC port; 0 (the default) lets the OS pick. Pass a previous port to restart in place. */
  port?: number;
  /** How long the app may take to log its listening line; 60 s by default. */
  startTimeoutMs?: number;
}

export interface AppExit {
  code: number | null;
  /** 'SIGKILL' when the app outlived the grace period. */
  signal: NodeJS.Signals | null;
  /** From the SIGTERM to the exit. */
  elapsedMs: number;
}

export interface RunningLarderApp {
  readonly app: string;
  readonly pid: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly port: number;
  /** Undefined when the app runs with metrics disabled. */
  readonly metricsPort: number | undefined;
  /** Every line the app printed so far (stderr lines prefixed `stderr: `), for failure messages. */
  readonly output: string[];
  /** Settles when the process exits, however that happens. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then wait; SIGKILL after graceMs (reported in the exit's signal). Later calls get the first call's exit. */
  stop(graceMs?: number): Promise<AppExit>;
}

// By file URL, not the name 'tsx': node resolves that from the child's working directory,
// and an app started in a feature repo elsewhere would not find it.
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_GRACE_MS = 10_000;

// Apps still running when the test process ends (a failed beforeAll, a crash) are
// killed rather than left behind holding ports.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Runs `tsx apps/<app>/src/main.ts` on 127.0.0.1 and resolves once it logs its JSON
 * `"msg":"listening"` line, which says which ports the OS gave it.
 */
export function startLarderApp(options: LarderAppOptions): Promise<RunningLarderApp> {
  const { app } = options;
  const entry = path.join(options.appsDir ?? path.join(REPO_ROOT, 'apps'), app, 'src/main.ts');
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  // tsx as a loader inside one node process, not the tsx CLI: the CLI relays
  // SIGTERM to a child and SIGKILLs it when the child has not acknowledged
  // within 30 ms, which on a busy machine cuts a graceful drain short.
  const child = spawn(process.execPath, ['--import', TSX_LOADER, entry], {
    cwd: options.cwd ?? REPO_ROOT,
    env: {
      ...process.env,
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: String(options.port ?? 0),
      LARDER_METRICS_PORT: '0',
      // The listening line is logged at info.
      LARDER_LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a SIGKILL reaches anything the app started too.
    detached: true,
  });
  track(child);
  const output: string[] = [];
  let stopping: Promise<AppExit> | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      live.delete(child);
      output.push(`spawn error: ${error.message}`);
      resolve({ code: null, signal: null });
    });
  });
  // Reading both pipes to the end also keeps the child from blocking on a full one.
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(`stderr: ${line}`));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`${app} printed no listening line within ${startTimeoutMs} ms:\n${output.join('\n')}`));
    }, startTimeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code ?? signal}) before listening:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const listening = parseListening(line);
      if (listening === undefined) return;
      clearTimeout(timer);
      resolve({
        app,
        pid: child.pid!,
        address: `127.0.0.1:${listening.grpcPort}`,
        port: listening.grpcPort,
        metricsPort: listening.metricsPort,
        output,
        exited,
        // Once: a second SIGTERM would make the app skip its graceful shutdown.
        stop: (graceMs = DEFAULT_GRACE_MS) => (stopping ??= stopChild(child, exited, graceMs)),
      });
    });
  });
}

/** The ports of a `{"msg":"listening","grpcPort":N,"metricsPort":N?}` log line, or undefined for any other line. */
export function parseListening(line: string): { grpcPort: number; metricsPort: number | undefined } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (fields['msg'] !== 'listening') return undefined;
  const { grpcPort, metricsPort } = fields;
  if (typeof grpcPort !== 'number') return undefined;
  return { grpcPort, metricsPort: typeof metricsPort === 'number' ? metricsPort : undefined };
}

async function stopChild(child: ChildProcess, exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>, graceMs: number): Promise<AppExit> {
  const started = Date.now();
  const running = child.exitCode === null && child.signalCode === null;
  // To tsx alone, which hands it to the app: the app would take a second one as "exit now".
  if (running) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first === 'late') {
    killGroup(child, 'SIGKILL');
    const killed = await exited;
    return { ...killed, elapsedMs: Date.now() - started };
  }
  // Whatever the app left behind in its group goes too (once: the group id is free after that).
  if (running) killGroup(child, 'SIGKILL');
  return { ...first, elapsedMs: Date.now() - started };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  live.add(child);
  // The supervisor's watchdog kills the group if this process dies without any handler running.
  sharedSupervisor().adoptGroup(child.pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const running of live) killGroup(running, 'SIGKILL');
  });
}
