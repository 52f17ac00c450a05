import path from 'node:path';
import { freePort } from './ports';
import { locateBigQueryEmulator, type BigQueryEmulatorInstall } from './prerequisites';
import { sharedSupervisor, waitUntil, type ManagedProcess, type Supervisor } from './supervisor';

export interface BigQueryEmulatorOptions {
  /** Defaults to the virtualenv made by ensurePrerequisites (~/.cache/larder/venv-bq). */
  install?: BigQueryEmulatorInstall;
  supervisor?: Supervisor;
  /** Project the emulator answers for; clients pass the same `projectId`. */
  projectId?: string;
  timeoutMs?: number;
}

export interface RunningBigQueryEmulator {
  /** http://127.0.0.1:<port>, for `new BigQuery({ apiEndpoint, projectId })`. */
  endpoint: string;
  projectId: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export const DEFAULT_BIGQUERY_PROJECT = 'larder-test';

/**
 * bqemulator (BigQuery REST API over DuckDB), in memory, on 127.0.0.1. Its gRPC Storage
 * API port is bound to loopback too; we do not use it yet.
 */
export async function startBigQueryEmulator(options: BigQueryEmulatorOptions = {}): Promise<RunningBigQueryEmulator> {
  const install = options.install ?? locateBigQueryEmulator();
  if (install === undefined) throw new Error('the BigQuery emulator is not installed: run `npm test`, which installs it');
  const supervisor = options.supervisor ?? sharedSupervisor();
  const projectId = options.projectId ?? DEFAULT_BIGQUERY_PROJECT;
  const host = '127.0.0.1';
  const [restPort, grpcPort] = [await freePort(), await freePort()];
  const dir = supervisor.makeDir(`bigquery-${restPort}`);
  const proc = supervisor.spawn({
    name: `bigquery:${restPort}`,
    command: install.python,
    args: [
      install.launcher,
      'start',
      '--rest-host',
      host,
      '--rest-port',
      String(restPort),
      '--grpc-host',
      host,
      '--grpc-port',
      String(grpcPort),
      '--ephemeral',
      '--project',
      projectId,
      '--log-level',
      'warning',
      '--log-format',
      'console',
    ],
    cwd: dir,
    env: {
      ...process.env,
      // DuckDB keeps its home-folder state (~/.duckdb) inside the temp dir.
      HOME: dir,
      // The avro extension would be downloaded from the internet; we do not need it.
      BQEMU_ENABLE_FORMAT_EXTENSIONS: 'false',
      PYTHONUNBUFFERED: '1',
    },
    logFile: path.join(dir, 'bigquery.log'),
  });
  const endpoint = `http://${host}:${restPort}`;
  try {
    await waitUntil(() => listsDatasets(endpoint, projectId), {
      what: `bigquery emulator on ${endpoint}`,
      timeoutMs: options.timeoutMs ?? 60_000,
      process: proc,
      intervalMs: 200,
    });
  } catch (error) {
    await proc.stop(0);
    throw error;
  }
  return { endpoint, projectId, process: proc, stop: () => proc.stop() };
}

async function listsDatasets(endpoint: string, projectId: string): Promise<boolean> {
  const response = await fetch(`${endpoint}/bigquery/v2/projects/${projectId}/datasets`, {
    signal: AbortSignal.timeout(1_000),
  });
  await response.arrayBuffer();
  return response.ok;
}
