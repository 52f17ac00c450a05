import { PYTHON_CLIENT } from './paths';
import { run } from './run';
import type { Toolchain } from './toolchain';

/** One line a client printed: one health check, reflection stream or rpc. */
export interface ClientRecord {
  client: 'python' | 'go';
  check: 'health' | 'reflection' | 'rpc';
  address: string;
  service: string;
  /** The gRPC code name (OK, UNIMPLEMENTED, ...) or a CLIENT_* word for a client-side problem. */
  code: string;
  message: string;
  /** health: the serving status name. */
  status?: string;
  /** reflection: every service the server listed. */
  services?: string[];
  /** reflection: the methods of `service`, from the descriptor the server sent; null when none came. */
  methods?: string[] | null;
  /** rpc: `<service>/<method>`. */
  method?: string | null;
  /** rpc: the answer as JSON (streams summed up as their messages' parts). */
  response?: unknown;
}

export interface Target {
  service: string;
  address: string;
}

const CLIENT_TIMEOUT_MS = 60_000;

/** TLS for the Python client: a CA bundle, and a client certificate for mTLS. */
export interface ClientTls {
  ca: string;
  cert?: string;
  key?: string;
}

export async function runPythonClient(
  toolchain: Toolchain,
  pythonStubs: string,
  targets: readonly Target[],
  tls?: ClientTls,
  token?: string,
): Promise<ClientRecord[]> {
  const tlsArgs = tls === undefined ? [] : ['--ca', tls.ca, ...(tls.cert !== undefined && tls.key !== undefined ? ['--cert', tls.cert, '--key', tls.key] : [])];
  const tokenArgs = token === undefined ? [] : ['--token', token];
  const { stdout } = await run(toolchain.python, [PYTHON_CLIENT, '--stubs', pythonStubs, ...tlsArgs, ...tokenArgs, ...targetArgs(targets)], {
    timeoutMs: CLIENT_TIMEOUT_MS,
  });
  return parseRecords(stdout);
}

export async function runGoClient(binary: string, targets: readonly Target[]): Promise<ClientRecord[]> {
  const { stdout } = await run(binary, targetArgs(targets), { timeoutMs: CLIENT_TIMEOUT_MS });
  return parseRecords(stdout);
}

function targetArgs(targets: readonly Target[]): string[] {
  return targets.map(({ service, address }) => `${service}=${address}`);
}

function parseRecords(stdout: string): ClientRecord[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ClientRecord);
}
