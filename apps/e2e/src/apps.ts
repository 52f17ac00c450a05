import os from 'node:os';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './paths';

/** The five services and the gRPC service each one serves. */
export const LARDER_APPS: readonly LarderApp[] = [
  { name: 'registry', service: 'larder.registry.v1.RegistryService' },
  { name: 'online-serving', service: 'larder.serving.v1.OnlineServingService' },
  { name: 'offline-retrieval', service: 'larder.offline.v1.OfflineRetrievalService' },
  { name: 'materialization', service: 'larder.materialization.v1.MaterializationService' },
  { name: 'ingestion', service: 'larder.ingestion.v1.IngestionService' },
];

export interface LarderApp {
  /** Folder name under apps/. */
  name: string;
  /** Full name of the gRPC service it serves. */
  service: string;
}

export interface StartOptions {
  /** Where apps/<name>/src/main.ts are; the repo's apps/ by default. */
  appsDir?: string;
  /** How long an app may take to print its listening line. */
  startTimeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the SIGTERM to the exit. */
  elapsedMs: number;
}

export interface RunningApp extends LarderApp {
  address: string;
  grpcPort: number;
  metricsPort: number;
  /** Everything the app printed, for failure messages. */
  output: string[];
  /** SIGTERM, then wait; SIGKILL after graceMs (and report it as such). */
  stop(graceMs: number): Promise<Exit>;
}

/** Starts an app on free loopback ports and resolves once it says where it listens. */
export function startApp(app: LarderApp, options: StartOptions = {}): Promise<RunningApp> {
  const appsDir = options.appsDir ?? path.join(REPO_ROOT, 'apps');
  const entry = path.join(appsDir, app.name, 'src/main.ts');
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [entry], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_METRICS_PORT: '0',
      LARDER_LOG_LEVEL: 'info',
      // A registry of this test run's own, never the user's ~/.larder.
      LARDER_REGISTRY_LOCATION: path.join(os.tmpdir(), `larder-e2e-${process.pid}`, 'registry.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(`stderr: ${line}`));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app.name} printed no listening line within ${options.startTimeoutMs ?? 60_000} ms:\n${output.join('\n')}`));
    }, options.startTimeoutMs ?? 60_000);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${app.name} exited (${code ?? signal}) before listening:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const listening = parseListening(line);
      if (listening === undefined) return;
      clearTimeout(timer);
      resolve({
        ...app,
        ...listening,
        address: `127.0.0.1:${listening.grpcPort}`,
        output,
        stop: (graceMs) => stopChild(child, exited, graceMs),
      });
    });
  });
}

function parseListening(line: string): { grpcPort: number; metricsPort: number } | undefined {
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
  if (typeof grpcPort !== 'number' || typeof metricsPort !== 'number') return undefined;
  return { grpcPort, metricsPort };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  graceMs: number,
): Promise<Exit> {
  const started = Date.now();
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first === 'late') {
    child.kill('SIGKILL');
    const killed = await exited;
    return { ...killed, elapsedMs: Date.now() - started };
  }
  return { ...first, elapsedMs: Date.now() - started };
}
