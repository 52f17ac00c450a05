import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ProcessOwner {
  uid: number;
  gid: number;
}

export interface SpawnSpec {
  /** Short name used in logs and error messages, e.g. "redis". */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as another user (PostgreSQL refuses to run as root). */
  owner?: ProcessOwner;
  /** Signal asking for a clean shutdown; SIGKILL follows after the grace period. */
  stopSignal?: NodeJS.Signals;
  /** stdout and stderr are appended here. */
  logFile: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process exits, with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** The last lines the process wrote, for error messages. */
  logTail(lines?: number): string;
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 5_000;

// Supervisors still holding processes; the 'exit' hook kills them when the owner
// process ends without calling stopAll() (a crash, process.exit from elsewhere).
const live = new Set<Supervisor>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const supervisor of live) supervisor.killAllNow();
  });
}

/**
 * Owns one temporary folder and every process started in it. Each process runs in
 * its own process group (detached), so stopping kills the whole tree it spawned.
 * A small watchdog shell outlives us on purpose: if this Node process dies without
 * running any handler (SIGKILL, OOM), it kills the recorded groups and removes the folder.
 */
export class Supervisor {
  private readonly processes = new Set<ManagedProcess>();
  private readonly groupsFile: string;
  private removed = false;

  private constructor(readonly root: string) {
    this.groupsFile = path.join(root, 'process-groups');
  }

  static create(prefix = 'larder-test-'): Supervisor {
    const root = mkdtempSync(path.join(tmpdir(), prefix));
    // Services running as another user (postgres) must be able to reach their folder.
    chmodSync(root, 0o755);
    const supervisor = new Supervisor(root);
    supervisor.startWatchdog();
    live.add(supervisor);
    installExitHook();
    return supervisor;
  }

  /** A fresh folder inside the supervisor's root, optionally owned by another user. */
  makeDir(name: string, owner?: ProcessOwner): string {
    const dir = mkdtempSync(path.join(this.root, `${name}-`));
    if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
    return dir;
  }

  spawn(spec: SpawnSpec): ManagedProcess {
    if (this.removed) throw new Error(`cannot start ${spec.name}: the supervisor was already stopped`);
    mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    let child;
    try {
      child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd ?? this.root,
        env: spec.env ?? process.env,
        detached: true,
        stdio: ['ignore', fd, fd],
        ...(spec.owner === undefined ? {} : { uid: spec.owner.uid, gid: spec.owner.gid }),
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // spawn reports ENOENT and friends asynchronously; surface it now with the command.
      child.on('error', () => undefined);
      throw new Error(`cannot start ${spec.name}: failed to spawn ${spec.command}`);
    }
    appendFileSync(this.groupsFile, `${pid}\n`);

    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        exitCode = code;
        resolve(code);
      });
      child.on('error', () => {
        exitCode = null;
        resolve(null);
      });
    });

    const stopSignal = spec.stopSignal ?? 'SIGTERM';
    const processes = this.processes;
    const managed: ManagedProcess = {
      name: spec.name,
      pid,
      logFile: spec.logFile,
      exited,
      hasExited: () => exitCode !== undefined,
      logTail: (lines = 30) => tailOf(spec.logFile, lines),
      async stop(graceMs = DEFAULT_GRACE_MS) {
        if (exitCode === undefined) {
          killGroup(pid, stopSignal);
          await Promise.race([exited, delay(graceMs)]);
        }
        // Always sweep the group: the leader may be gone while its children live on.
        killGroup(pid, 'SIGKILL');
        await Promise.race([exited, delay(2_000)]);
        processes.delete(managed);
      },
    };
    this.processes.add(managed);
    return managed;
  }

  /**
   * Records a process group we did not spawn (a test runner, say) so that the watchdog
   * kills it too if this Node process dies without cleaning up.
   */
  adoptGroup(pgid: number): void {
    if (!this.removed) appendFileSync(this.groupsFile, `${pgid}\n`);
  }

  /** Stops every process (clean signal first), then removes the folder. */
  async stopAll(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop(graceMs)));
    this.removeRoot();
  }

  /** Synchronous last resort for exit handlers: SIGKILL every group, remove the folder. */
  killAllNow(): void {
    for (const p of this.processes) killGroup(p.pid, 'SIGKILL');
    this.processes.clear();
    this.removeRoot();
  }

  private removeRoot(): void {
    if (this.removed) return;
    this.removed = true;
    live.delete(this);
    rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }

  private startWatchdog(): void {
    const script = [
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
      'if [ -f "$2/process-groups" ]; then',
      '  for g in $(cat "$2/process-groups"); do kill -9 "-$g" 2>/dev/null; done',
      'fi',
      'rm -rf "$2"',
    ].join('\n');
    const watchdog = spawn('sh', ['-c', script, 'larder-watchdog', String(process.pid), this.root], {
      detached: true,
      stdio: 'ignore',
    });
    watchdog.unref();
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  /** Fail fast, with its log, when the process dies while we wait. */
  process?: ManagedProcess;
  intervalMs?: number;
}

/**
 * Polls `probe` until it gives true, for at most `timeoutMs`; errors thrown by the
 * probe count as "not yet". The one way tests wait for something to happen: on an
 * observable condition with a bound, never a fixed sleep.
 */
export async function waitUntil(probe: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (options.process?.hasExited() === true) {
      throw new Error(`${options.what}: the process exited early. Its last output:\n${options.process.logTail()}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const log = options.process === undefined ? '' : `\nIts last output:\n${options.process.logTail()}`;
      throw new Error(`${options.what}: not ready after ${options.timeoutMs} ms${reason}${log}`);
    }
    await delay(options.intervalMs ?? 100);
  }
}

let defaultSupervisor: Supervisor | undefined;

/** The process-wide supervisor used when a start function is given none. */
export function sharedSupervisor(): Supervisor {
  defaultSupervisor ??= Supervisor.create();
  return defaultSupervisor;
}
