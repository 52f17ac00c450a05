import { runService } from '@larder/rpc';
import type { RunServiceOptions, ServerConfigSchema, ServerHandle } from '@larder/rpc';

/** gRPC on a free loopback port, no metrics endpoint: what every in-process test service gets. */
export const IN_PROCESS_ENV: Readonly<Record<string, string>> = { LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_ENABLED: 'false' };

/**
 * Runs a service (an app's runService options, e.g. `registryService`, passed in by the
 * app's own test: libs never import apps) in this process with `env` over IN_PROCESS_ENV,
 * no signal handlers and no exit. Its log lines go to `lines`, not stdout; when it does
 * not start, the error carries them. Stop it with `handle.shutdown(reason)`.
 */
export async function runInProcess<S extends ServerConfigSchema>(
  service: RunServiceOptions<S>,
  env: Readonly<Record<string, string>>,
  lines: string[] = [],
): Promise<ServerHandle> {
  let exit: number | undefined;
  const handle = await runService({
    ...service,
    env: { ...IN_PROCESS_ENV, ...env },
    argv: [],
    handleSignals: false,
    write: (line) => void lines.push(line),
    exit: (code) => void (exit = code),
  });
  if (handle === undefined) throw new Error(`${service.name} did not start (exit ${exit}):\n${lines.join('\n')}`);
  return handle;
}
