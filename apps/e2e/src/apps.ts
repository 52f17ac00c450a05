import os from 'node:os';
import path from 'node:path';
import { startLarderApp } from '@larder/testing';
import type { AppExit } from '@larder/testing';

/** The five services, the gRPC service each is named for, and the others it also serves. */
export const LARDER_APPS: readonly LarderApp[] = [
  { name: 'registry', service: 'larder.registry.v1.RegistryService' },
  { name: 'online-serving', service: 'larder.serving.v1.OnlineServingService' },
  { name: 'offline-retrieval', service: 'larder.offline.v1.OfflineRetrievalService', alsoServes: ['larder.statistics.v1.StatisticsService'] },
  { name: 'materialization', service: 'larder.materialization.v1.MaterializationService' },
  { name: 'ingestion', service: 'larder.ingestion.v1.IngestionService' },
];

export interface LarderApp {
  /** Folder name under apps/. */
  name: string;
  /** Full name of the gRPC service it serves. */
  service: string;
  /** Other larder services on the same port (statistics run where the offline engines are). */
  alsoServes?: readonly string[];
}

export interface StartOptions {
  /** Where apps/<name>/src/main.ts are; the repo's apps/ by default. */
  appsDir?: string;
  /** How long an app may take to print its listening line. */
  startTimeoutMs?: number;
  /** Extra environment for the app (a registry address, say), over the defaults below. */
  env?: Record<string, string>;
}

export type Exit = AppExit;

export interface RunningApp extends LarderApp {
  address: string;
  grpcPort: number;
  metricsPort: number | undefined;
  /** Everything the app printed, for failure messages. */
  output: string[];
  /** SIGTERM, then wait; SIGKILL after graceMs (and report it as such). */
  stop(graceMs: number): Promise<Exit>;
}

/** Starts an app on free loopback ports and resolves once it says where it listens. */
export async function startApp(app: LarderApp, options: StartOptions = {}): Promise<RunningApp> {
  const running = await startLarderApp({
    app: app.name,
    // A registry of this test run's own, never the user's ~/.larder.
    env: { LARDER_REGISTRY_LOCATION: path.join(os.tmpdir(), `larder-e2e-${process.pid}`, 'registry.json'), ...options.env },
    ...(options.appsDir !== undefined && { appsDir: options.appsDir }),
    ...(options.startTimeoutMs !== undefined && { startTimeoutMs: options.startTimeoutMs }),
  });
  return {
    ...app,
    address: running.address,
    grpcPort: running.port,
    metricsPort: running.metricsPort,
    output: running.output,
    stop: (graceMs) => running.stop(graceMs),
  };
}
