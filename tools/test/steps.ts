import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

export interface StepOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Told the step's process group id, e.g. to hand it to the supervisor's watchdog. */
  onStart?: (pgid: number) => void;
}

/**
 * Runs a command with its output on our console and resolves with its exit code.
 * It gets its own process group so that stopping it also stops what it spawned
 * (jest workers), and so that a crash of ours cannot leave it behind (see 'exit' below).
 */
export function runStep(command: string, args: string[], options: StepOptions): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    running.add(child);
    if (child.pid !== undefined) options.onStart?.(child.pid);
    child.on('error', (error) => {
      console.error(`cannot run ${command}: ${error.message}`);
      running.delete(child);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
    });
  });
}

/** SIGTERM to every running step's group, SIGKILL after a grace period. */
export async function stopRunningSteps(graceMs = 5_000): Promise<void> {
  const steps = [...running];
  const exited = steps.map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
  for (const child of steps) killGroup(child, 'SIGTERM');
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([Promise.all(exited), timeout]);
  for (const child of steps) killGroup(child, 'SIGKILL');
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});
