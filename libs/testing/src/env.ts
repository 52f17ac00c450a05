/** Environment variables through which `npm test` hands the services to jest. */
export const SERVICE_ENV = {
  redisUrl: 'LARDER_TEST_REDIS_URL',
  postgresUrl: 'LARDER_TEST_PG_URL',
  kafkaBrokers: 'LARDER_TEST_KAFKA_BROKERS',
  bigQueryEndpoint: 'LARDER_TEST_BQ_ENDPOINT',
  bigQueryProject: 'LARDER_TEST_BQ_PROJECT',
} as const;

export interface TestServices {
  redis: { url: string; host: string; port: number };
  postgres: { url: string; host: string; port: number; user: string; database: string };
  /** host:port strings, as kafkajs takes them. */
  kafka: { brokers: string[] };
  /** For `new BigQuery({ apiEndpoint: endpoint, projectId })`. */
  bigquery: { endpoint: string; projectId: string };
}

/**
 * The services started by `npm test`, read from the environment. Throws (never skips)
 * when a test is run some other way, so a missing service is a visible failure.
 */
export function testServices(env: NodeJS.ProcessEnv = process.env): TestServices {
  const read = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new Error(
        `${name} is not set: run the tests through \`npm test\`, which starts Redis, PostgreSQL, Kafka and ` +
          'a BigQuery emulator and passes their addresses to jest (`npm test -- <jest args>` to pick tests).',
      );
    }
    return value;
  };
  const redis = new URL(read(SERVICE_ENV.redisUrl));
  const postgres = new URL(read(SERVICE_ENV.postgresUrl));
  return {
    redis: { url: redis.href, host: redis.hostname, port: Number(redis.port) },
    postgres: {
      url: postgres.href,
      host: postgres.hostname,
      port: Number(postgres.port),
      user: decodeURIComponent(postgres.username),
      database: postgres.pathname.slice(1),
    },
    kafka: { brokers: read(SERVICE_ENV.kafkaBrokers).split(',') },
    bigquery: { endpoint: read(SERVICE_ENV.bigQueryEndpoint), projectId: read(SERVICE_ENV.bigQueryProject) },
  };
}

/**
 * Variables for the test process. Besides our own, they keep Google's auth library from
 * probing the GCE metadata server (a non-loopback address) when no credentials exist.
 */
export function serviceEnvironment(services: TestServices): Record<string, string> {
  return {
    [SERVICE_ENV.redisUrl]: services.redis.url,
    [SERVICE_ENV.postgresUrl]: services.postgres.url,
    [SERVICE_ENV.kafkaBrokers]: services.kafka.brokers.join(','),
    [SERVICE_ENV.bigQueryEndpoint]: services.bigquery.endpoint,
    [SERVICE_ENV.bigQueryProject]: services.bigquery.projectId,
    METADATA_SERVER_DETECTION: 'none',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
}
