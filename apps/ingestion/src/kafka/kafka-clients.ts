import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import type { EndpointAllowList } from '@larder/core';
import type { Logger } from '@larder/rpc';
import { allowedSocketFactory } from './allowed-socket';

/** A source's connections: its consumer in the group, the dead-letter producer and an admin for offsets. */
export interface KafkaClients {
  consumer: Consumer;
  producer: Producer;
  admin: Admin;
}

export interface KafkaClientOptions {
  clientId: string;
  brokers: string[];
  groupId: string;
  /** Hosts the clients may dial: every socket (brokers the cluster advertises too) is checked. */
  endpoints: EndpointAllowList;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitTimeMs: number;
  /** kafkajs restarts a crashed consumer only while this says so (not once stopping). */
  restartOnFailure: () => Promise<boolean>;
  log: Logger;
}

/**
 * The kafkajs clients of one source, with kafkajs's own retries (connection and
 * request level) bounded, and its log lines sent to ours.
 */
export function kafkaClients(options: KafkaClientOptions): KafkaClients {
  const { log } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    socketFactory: allowedSocketFactory(options.endpoints),
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const fields = { kafkajs: entry.namespace, error: entry.log.error };
      if (entry.level <= logLevel.ERROR) log.warn(entry.log.message, fields);
      else log.debug(entry.log.message, fields);
    },
  });
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBytes: options.maxBytes,
    maxWaitTimeInMs: options.maxWaitTimeMs,
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8, restartOnFailure: options.restartOnFailure },
  });
  // The dead-letter topic is created explicitly (with the source's partition count), never by a produce.
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 5 } });
  const admin = kafka.admin({ retry: { retries: 2 } });
  return { consumer, producer, admin };
}
