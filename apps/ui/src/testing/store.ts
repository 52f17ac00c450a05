// `npm start` (tools/start.ts) with the quickstart, on free ports, in its own process
// group: the whole store a user would open the UI against.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SERVICE_NODE_FLAGS } from '@larder/rpc';

const REPO_ROOT = path.resolve(__dirname, '../../../..');

export interface RunningStore {
  /** "http://127.0.0.1:port" of the web UI, from the start-up table. */
  readonly uiUrl: string;
  /** gRPC "host:port" of each service, from the start-up table. */
  readonly grpc: Readonly<Record<string, string>>;
  readonly log: string;
  stop(): Promise<void>;
}

export function startStore(home: string, env: Record<string, string> = {}): Promise<RunningStore> {
  const child: ChildProcess = spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--import', 'tsx', path.join(REPO_ROOT, 'tools/start.ts')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: home,
      LARDER_QUICKSTART_DIR: path.join(home, 'quickstart'),
      LARDER_PORT_BASE: '0',
      LARDER_KAFKA_ENABLED: 'false',
      LARDER_LOG_LEVEL: 'warn',
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`npm start did not get ready within 120 s:\n${log}`));
    }, 120_000);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (!log.includes('Press Ctrl-C to stop.')) return;
      clearTimeout(timer);
      const ui = /Web UI: (http:\/\/\S+)/.exec(log);
      if (ui === null) {
        void stop();
        reject(new Error(`npm start did not start the web UI:\n${log}`));
        return;
      }
      const grpc: Record<string, string> = {};
      for (const match of log.matchAll(/^ {2}(\S+) +grpc (\S+)/gm)) grpc[match[1]!] = match[2]!;
      resolve({ uiUrl: ui[1]!, grpc, log, stop });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before it was ready:\n${log}`));
    });
  });
}
