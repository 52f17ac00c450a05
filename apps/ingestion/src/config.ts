import { ENDPOINT_SETTINGS, FUTURE_SKEW_SETTING, LOOPBACK_ENDPOINTS } from '@larder/core';
import { authConfigSchema } from '@larder/auth';
import { offlineStoreConfigSchema, openOfflineStore } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { onlineStoreConfigSchema } from '@larder/online-store';
import { ConfigError, bool, duration, httpLimitsSchema, int, oneOf, serverConfigSchema, string, stringList } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';
import type { ConsumerSettings } from './kafka/source-consumer';

export const ingestionSchema = {
  ...serverConfigSchema({ grpcPort: 6573, metricsPort: 9473 }),
  ...authConfigSchema(),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({
      default: 5_000,
      env: 'LARDER_REGISTRY_STARTUP_WAIT',
      doc: 'How long to wait at start for the first registry snapshot; consumers start when it arrives.',
    }),
  },
  ingestion: {
    project: string({
      default: '',
      env: 'LARDER_PROJECT',
      doc: "Project of pushes that name none, and the only project whose Kafka sources are consumed; empty means the registry's only project for pushes and every project for consumers.",
    }),
    basePath: string({
      default: '',
      env: 'LARDER_INGESTION_BASE_PATH',
      doc: 'Folder relative file-source paths are resolved against (the feature repo); empty = the working directory.',
    }),
    storeTimeout: duration({
      default: 10_000,
      min: 1,
      env: 'LARDER_INGESTION_STORE_TIMEOUT',
      doc: 'Deadline of one online-store write (a push, or one attempt of a Kafka batch).',
    }),
    maxFutureSkew: duration(FUTURE_SKEW_SETTING),
  },
  kafka: {
    enabled: bool({ default: true, env: 'LARDER_KAFKA_ENABLED', doc: 'Consume the Kafka sources of the registry.' }),
    clientId: string({ default: 'larder-ingestion', env: 'LARDER_KAFKA_CLIENT_ID' }),
    groupPrefix: string({
      default: 'larder.',
      env: 'LARDER_KAFKA_GROUP_PREFIX',
      doc: 'Consumer group of a source without consumer_group: <prefix><project>.<source>.',
    }),
    fromBeginning: bool({
      default: true,
      env: 'LARDER_KAFKA_FROM_BEGINNING',
      doc: 'Where a new consumer group starts: the oldest retained message (true) or only new ones.',
    }),
    sessionTimeout: duration({
      default: 30_000,
      min: 1_000,
      env: 'LARDER_KAFKA_SESSION_TIMEOUT',
      doc:
        'How long the group keeps a consumer that stopped heartbeating (killed, hung) before handing its partitions to ' +
        'another: a restarted or surviving consumer waits up to this long. Shorter evicts a consumer stalled by a long ' +
        'GC or a busy machine; the broker accepts group.min.session.timeout.ms (6s by default) and up.',
    }),
    heartbeatInterval: duration({
      default: 3_000,
      min: 100,
      env: 'LARDER_KAFKA_HEARTBEAT_INTERVAL',
      doc: 'How often a consumer tells the group it is alive; under sessionTimeout (a third of it or less).',
    }),
    rebalanceTimeout: duration({
      default: 60_000,
      min: 1_000,
      env: 'LARDER_KAFKA_REBALANCE_TIMEOUT',
      doc: 'How long a rebalance waits for every member to rejoin; a member that was killed is dropped after this or its session timeout, whichever comes first.',
    }),
    partitionsConcurrently: int({ default: 4, min: 1, env: 'LARDER_KAFKA_PARTITIONS_CONCURRENTLY', doc: 'Partitions of one source handled side by side.' }),
    maxBytesPerPartition: int({
      default: 1024 * 1024,
      min: 1024,
      env: 'LARDER_KAFKA_MAX_BYTES_PER_PARTITION',
      doc: 'Fetch limit per partition; with maxBytes it bounds memory.',
    }),
    maxBytes: int({ default: 10 * 1024 * 1024, min: 1024, env: 'LARDER_KAFKA_MAX_BYTES' }),
    retryInitial: duration({
      default: 100,
      min: 1,
      env: 'LARDER_KAFKA_RETRY_INITIAL',
      doc: 'First wait before retrying a batch whose writes failed; doubles up to retryMax, each wait jittered between half and all of its step.',
    }),
    retryMax: duration({ default: 5_000, min: 1, env: 'LARDER_KAFKA_RETRY_MAX' }),
    commitInterval: duration({
      default: 1_000,
      min: 0,
      env: 'LARDER_KAFKA_COMMIT_INTERVAL',
      doc: 'Offsets are committed in the background, at most this often, once the writes they cover succeeded; a crash replays at most this much (writes are idempotent).',
    }),
    maxWait: duration({ default: 100, min: 0, env: 'LARDER_KAFKA_MAX_WAIT', doc: 'How long the broker may hold a fetch that finds no new messages.' }),
    lagRefresh: duration({ default: 5_000, min: 100, env: 'LARDER_KAFKA_LAG_REFRESH', doc: 'How often log end and committed offsets are read for lag.' }),
    deadLetterPartitions: int({
      default: 0,
      min: 0,
      env: 'LARDER_KAFKA_DEAD_LETTER_PARTITIONS',
      doc: 'Partitions of a dead-letter topic the consumer creates; 0 = as many as the source topic.',
    }),
    deadLetterMaxBytes: int({
      default: 0,
      min: 0,
      env: 'LARDER_KAFKA_DEAD_LETTER_MAX_BYTES',
      doc: "Largest produce request of dead letters; 0 = the dead-letter topic's max.message.bytes as the broker reports it.",
    }),
  },
  // Hosts a source may make ingestion connect to; a source naming another is FAILED, never dialled.
  endpoints: {
    kafkaBrokers: stringList({
      default: LOOPBACK_ENDPOINTS,
      env: ENDPOINT_SETTINGS.kafkaBrokers.env,
      doc: 'Kafka brokers a source may list (and the cluster may advertise), as host:port patterns (* or *.domain hosts, * ports).',
    }),
    schemaRegistries: stringList({
      default: LOOPBACK_ENDPOINTS,
      env: ENDPOINT_SETTINGS.schemaRegistries.env,
      doc: 'Schema registries a source may name, as host:port patterns.',
    }),
  },
  http: {
    enabled: bool({ default: true, env: 'LARDER_INGESTION_HTTP_ENABLED', doc: 'Serve POST /push and /write-to-online-store (Feast JSON).' }),
    host: string({ default: '', env: 'LARDER_INGESTION_HTTP_HOST', doc: 'Address the HTTP endpoint binds to; empty = bind.host.' }),
    port: int({ default: 6574, min: 0, max: 65535, env: 'LARDER_INGESTION_HTTP_PORT', doc: '0 picks a free port.' }),
    ...httpLimitsSchema('LARDER_INGESTION_HTTP_'),
  },
  onlineStore: onlineStoreConfigSchema(),
  offlineStore: {
    ...offlineStoreConfigSchema(),
    type: oneOf(['duckdb', 'postgres', 'bigquery', 'none'] as const, {
      default: 'duckdb',
      env: 'LARDER_OFFLINE_STORE_TYPE',
      doc: "'none': offline writes are refused (FAILED_PRECONDITION) and Kafka rows go online only.",
    }),
  },
};

export type IngestionConfig = ConfigOf<typeof ingestionSchema>;

/** The configured offline store, or undefined for 'none'. */
export async function openIngestionOfflineStore(config: IngestionConfig['offlineStore']): Promise<OfflineStore | undefined> {
  return config.type === 'none' ? undefined : openOfflineStore({ ...config, type: config.type }, { poolSize: 4 });
}

export function consumerSettings(config: IngestionConfig): ConsumerSettings {
  const k = config.kafka;
  // A heartbeat no more often than the session lasts gets every consumer evicted in turn.
  if (k.heartbeatInterval >= k.sessionTimeout) {
    throw new ConfigError([
      {
        key: 'kafka.heartbeatInterval',
        problem: `must be less than kafka.sessionTimeout (${k.sessionTimeout} ms), got ${k.heartbeatInterval} ms; a third of it or less`,
        source: 'kafka.heartbeatInterval and kafka.sessionTimeout together',
      },
    ]);
  }
  return {
    clientId: k.clientId,
    groupPrefix: k.groupPrefix,
    sessionTimeoutMs: k.sessionTimeout,
    heartbeatIntervalMs: k.heartbeatInterval,
    rebalanceTimeoutMs: k.rebalanceTimeout,
    fromBeginning: k.fromBeginning,
    partitionsConsumedConcurrently: k.partitionsConcurrently,
    storeTimeoutMs: config.ingestion.storeTimeout,
    maxFutureSkewMs: config.ingestion.maxFutureSkew,
    retryInitialMs: k.retryInitial,
    retryMaxMs: k.retryMax,
    commitIntervalMs: k.commitInterval,
    maxWaitTimeMs: k.maxWait,
    lagRefreshMs: k.lagRefresh,
    maxBytesPerPartition: k.maxBytesPerPartition,
    maxBytes: k.maxBytes,
    deadLetterPartitions: k.deadLetterPartitions,
    deadLetterMaxBytes: k.deadLetterMaxBytes,
  };
}
