import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';

const repoRoot = path.resolve(__dirname, '../../../..');

/**
 * The real registry service (apps/registry) as a child process over a file
 * registry in a temp folder. stop() sends SIGTERM; restart() starts it again
 * on the same port with the same file, as a rolling restart would.
 */
export interface TestRegistry {
  readonly address: string;
  readonly registryFile: string;
  apply(request: MessageInitShape<typeof registryV1.ApplyRegistryRequestSchema>): Promise<registryV1.ApplyRegistryResponse>;
  deleteFeatureView(project: string, name: string): Promise<{ version: bigint }>;
  version(): Promise<bigint>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the service and removes the temp folder. */
  dispose(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

/** Starts `tsx apps/registry/src/main.ts` and resolves with its port once it logs `listening`. */
export async function startRegistryProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<Running> {
  const child = spawn(path.join(repoRoot, 'node_modules/.bin/tsx'), [path.join(repoRoot, 'apps/registry/src/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, LARDER_GRPC_HOST: '127.0.0.1', LARDER_METRICS_ENABLED: 'false', LARDER_SHUTDOWN_GRACE_PERIOD: '2s', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`registry did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { grpcPort?: number };
        if (typeof parsed.grpcPort === 'number') {
          clearTimeout(timer);
          resolve(parsed.grpcPort);
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => fail(new Error(`registry exited with ${code} before listening:\n${output}`)));
  });
  // Keep draining the pipes so the child never blocks on a full one.
  child.stdout?.resume();
  return { child, port, exited };
}

export async function startTestRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-registry-client-'));
  const registryFile = path.join(dir, 'registry.json');
  let port = 0;
  let running: Running | undefined;
  let client: RpcClient<typeof registryV1.RegistryService> | undefined;

  const start = async (): Promise<void> => {
    running = await startRegistryProcess({ LARDER_REGISTRY_LOCATION: registryFile, LARDER_GRPC_PORT: String(port) });
    port = running.port;
    client = createClient(registryV1.RegistryService, `127.0.0.1:${port}`, { defaultTimeoutMs: 10_000 });
  };
  const stop = async (): Promise<void> => {
    client?.close();
    client = undefined;
    if (running) {
      running.child.kill('SIGTERM');
      await running.exited;
      running = undefined;
    }
  };
  const rpc = (): RpcClient<typeof registryV1.RegistryService> => {
    if (!client) throw new Error('the test registry is stopped');
    return client;
  };
  await start();

  return {
    get address() {
      return `127.0.0.1:${port}`;
    },
    registryFile,
    apply: (request) => rpc().applyRegistry(request),
    deleteFeatureView: (project, name) => rpc().deleteFeatureView({ project, name }),
    version: async () => (await rpc().getRegistryVersion({})).version,
    stop,
    restart: start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
