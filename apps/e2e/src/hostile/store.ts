// The whole store as `npm start` runs it (tools/start.ts: five services in one process,
// the quickstart repo as its only read and write root), in a folder of its own, for the
// hostile-client suite and its benchmark.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NpmStarts } from '../npm-start';

export type ServiceName = 'registry' | 'online-serving' | 'offline-retrieval' | 'materialization' | 'ingestion';

export interface HostileStore {
  pid: number;
  /** The quickstart repo: the store's only read and write root. */
  root: string;
  /** gRPC address of each service, as logged. */
  grpc: Record<ServiceName, string>;
  /** Online serving's HTTP gateway and ingestion's push endpoint. */
  gatewayUrl: string;
  pushUrl: string;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/** Peak resident set of a process, in MiB (VmHWM). */
export function peakRssMiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/**
 * Starts `npm start` in `dir` (HOME and the quickstart live there), every listener on a
 * free loopback port, Kafka off (no broker is needed to refuse one at apply). `env` adds
 * settings (shorter HTTP timeouts, say).
 */
export async function startHostileStore(dir: string, env: Record<string, string> = {}): Promise<HostileStore> {
  const root = path.join(dir, 'quickstart');
  const starts = new NpmStarts();
  const { pid, log } = await starts.start('hostile', dir, {
    LARDER_QUICKSTART: '1',
    LARDER_QUICKSTART_DIR: root,
    LARDER_PORT_BASE: '0',
    LARDER_KAFKA_ENABLED: 'false',
    LARDER_LOG_LEVEL: 'info',
    ...env,
  });
  const grpc: Partial<Record<ServiceName, string>> = {};
  // "  registry           grpc 127.0.0.1:37811  metrics http://..." from the summary.
  for (const match of log.matchAll(/^ {2}(\S+) +grpc (\S+) +metrics/gm)) grpc[match[1] as ServiceName] = match[2] as string;
  const gatewayUrl = /"msg":"http gateway listening","http":"([^"]+)"/.exec(log)?.[1] ?? '';
  const pushUrl = /"msg":"http push endpoint listening","http":"([^"]+)"/.exec(log)?.[1] ?? '';
  if (Object.keys(grpc).length !== 5 || !gatewayUrl || !pushUrl || !log.includes('Quickstart: feature repo')) {
    await starts.stopAll();
    throw new Error(`npm start did not report five services, both HTTP endpoints and the quickstart:\n${log}`);
  }
  return {
    pid,
    root,
    grpc: grpc as Record<ServiceName, string>,
    gatewayUrl,
    pushUrl,
    alive: () => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')),
    stop: () => starts.stopAll(),
  };
}
