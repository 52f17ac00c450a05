import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../../..');

export interface RegistryProcess {
  child: ChildProcess;
  port: number;
  address: string;
  stop(): Promise<void>;
}

/** apps/registry as a child process on a free port; resolves once it logs `listening`. */
export async function startRegistryProcess(registryLocation: string, timeoutMs = 30_000): Promise<RegistryProcess> {
  const child = spawn(path.join(repoRoot, 'node_modules/.bin/tsx'), [path.join(repoRoot, 'apps/registry/src/main.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LARDER_REGISTRY_LOCATION: registryLocation,
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_METRICS_ENABLED: 'false',
      LARDER_SHUTDOWN_GRACE_PERIOD: '2s',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`registry did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { grpcPort: number }).grpcPort);
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => fail(new Error(`registry exited before listening:\n${output}`)));
  });
  return {
    child,
    port,
    address: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
