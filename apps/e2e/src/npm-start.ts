// `npm start` (tools/start.ts, as package.json's start script runs it) in its own process
// group, for tests that look at a whole store from outside.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SERVICE_NODE_FLAGS } from '@larder/rpc';
import { REPO_ROOT } from '@larder/testing';

export interface RunningStore {
  readonly pid: number;
  /** stdout and stderr up to "Press Ctrl-C to stop." */
  readonly log: string;
}

/** The stores a test started; `stopAll()` in afterAll sends SIGTERM (SIGKILL after 15 s). */
export class NpmStarts {
  private readonly children: ChildProcess[] = [];

  /** Starts a store with HOME `home`, no quickstart, and `env`; resolves once it is ready. */
  start(name: string, home: string, env: Record<string, string>): Promise<RunningStore> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', path.join(REPO_ROOT, 'tools/start.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: home, LARDER_QUICKSTART: '0', ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    let log = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: npm start did not get ready within 90 s:\n${log}`)), 90_000);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes('Press Ctrl-C to stop.')) {
          clearTimeout(timer);
          resolve({ pid: child.pid!, log });
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name}: npm start exited (${code ?? signal}) before it was ready:\n${log}`));
      });
    });
  }

  async stopAll(): Promise<void> {
    for (const child of this.children) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}
