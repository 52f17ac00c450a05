import { startBigQueryEmulator } from './bigquery';
import { serviceEnvironment, type TestServices } from './env';
import { startKafka } from './kafka';
import { startPostgres } from './postgres';
import type { Log, Prerequisites } from './prerequisites';
import { startRedis } from './redis';
import { Supervisor } from './supervisor';

export interface StartedService {
  name: string;
  address: string;
  ms: number;
}

export interface RunningTestServices {
  services: TestServices;
  /** Environment for the test process (see serviceEnvironment). */
  env: Record<string, string>;
  started: StartedService[];
  supervisor: Supervisor;
  /** Stops every service and removes the temp folder. */
  stop(): Promise<void>;
}

/**
 * Starts Redis, PostgreSQL, Kafka and the BigQuery emulator side by side in one
 * supervised temp folder. If any fails, the others are stopped before the error is thrown.
 */
export async function startTestServices(prerequisites: Prerequisites, log: Log = console.log): Promise<RunningTestServices> {
  const supervisor = Supervisor.create();
  const started: StartedService[] = [];
  const timed = async <T>(name: string, start: () => Promise<T>, address: (running: T) => string): Promise<T> => {
    const begin = Date.now();
    const running = await start();
    const service = { name, address: address(running), ms: Date.now() - begin };
    started.push(service);
    log(`${name} listening on ${service.address} (started in ${(service.ms / 1000).toFixed(1)} s)`);
    return running;
  };
  const results = await Promise.allSettled([
    timed(
      'redis',
      () => startRedis({ redisServer: prerequisites.redisServer, supervisor }),
      (r) => r.url,
    ),
    timed(
      'postgres',
      () => startPostgres({ install: prerequisites.postgres, supervisor }),
      (r) => r.url,
    ),
    timed(
      'kafka',
      () => startKafka({ install: prerequisites.kafka, supervisor }),
      (r) => r.brokers.join(','),
    ),
    timed(
      'bigquery',
      () => startBigQueryEmulator({ install: prerequisites.bigQuery, supervisor }),
      (r) => r.endpoint,
    ),
  ]);
  const [redis, postgres, kafka, bigquery] = results;
  if (redis?.status !== 'fulfilled' || postgres?.status !== 'fulfilled' || kafka?.status !== 'fulfilled' || bigquery?.status !== 'fulfilled') {
    await supervisor.stopAll(1_000);
    const reasons = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)));
    throw new Error(`could not start the test services:\n${reasons.join('\n')}`);
  }
  const services: TestServices = {
    redis: { url: redis.value.url, host: redis.value.host, port: redis.value.port },
    postgres: {
      url: postgres.value.url,
      host: postgres.value.host,
      port: postgres.value.port,
      user: postgres.value.user,
      database: postgres.value.database,
    },
    kafka: { brokers: kafka.value.brokers },
    bigquery: { endpoint: bigquery.value.endpoint, projectId: bigquery.value.projectId },
  };
  return {
    services,
    env: serviceEnvironment(services),
    started,
    supervisor,
    stop: () => supervisor.stopAll(),
  };
}
