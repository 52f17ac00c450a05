import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';

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
  deletePermission(project: string, name: string): Promise<{ version: bigint }>;
  version(): Promise<bigint>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the service and removes the temp folder. */
  dispose(): Promise<void>;
}

export async function startTestRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-registry-client-'));
  const registryFile = path.join(dir, 'registry.json');
  let port = 0;
  let running: RunningLarderApp | undefined;
  let client: RpcClient<typeof registryV1.RegistryService> | undefined;

  const start = async (): Promise<void> => {
    running = await startLarderApp({
      app: 'registry',
      port,
      startTimeoutMs: 30_000,
      env: { LARDER_REGISTRY_LOCATION: registryFile, LARDER_METRICS_ENABLED: 'false', LARDER_SHUTDOWN_GRACE_PERIOD: '2s' },
    });
    port = running.port;
    client = createClient(registryV1.RegistryService, running.address, { defaultTimeoutMs: 10_000 });
  };
  const stop = async (): Promise<void> => {
    client?.close();
    client = undefined;
    await running?.stop();
    running = undefined;
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
    deletePermission: (project, name) => rpc().deletePermission({ project, name }),
    version: async () => (await rpc().getRegistryVersion({})).version,
    stop,
    restart: start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
