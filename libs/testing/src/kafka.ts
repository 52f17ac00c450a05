import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './ports';
import { locateKafka, type KafkaInstall } from './prerequisites';
import { sharedSupervisor, waitUntil, type ManagedProcess, type Supervisor } from './supervisor';

export interface KafkaOptions {
  /** Defaults to the jars cached by ensurePrerequisites (~/.cache/larder/kafka-<version>/libs). */
  install?: KafkaInstall;
  supervisor?: Supervisor;
  /** Broker heap, e.g. '512m'. */
  heap?: string;
  timeoutMs?: number;
}

export interface RunningKafka {
  /** host:port strings for kafkajs `brokers`. */
  brokers: string[];
  clusterId: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * A single Kafka node in KRaft mode (broker and controller in one JVM), storage formatted
 * into a temp folder, every internal topic with one replica and one partition so that the
 * first consumer group or transaction does not wait on 50 partitions being created.
 */
export async function startKafka(options: KafkaOptions = {}): Promise<RunningKafka> {
  const install = options.install ?? locateKafka();
  if (install === undefined) throw new Error('Kafka jars are not cached: run `npm test`, which downloads them');
  const supervisor = options.supervisor ?? sharedSupervisor();
  const [brokerPort, controllerPort] = [await freePort(), await freePort()];
  const dir = supervisor.makeDir(`kafka-${brokerPort}`);
  const logFile = path.join(dir, 'kafka.log');
  const serverProperties = path.join(dir, 'server.properties');
  const log4j = path.join(dir, 'log4j2.properties');
  writeFileSync(serverProperties, brokerConfig(brokerPort, controllerPort, path.join(dir, 'data')));
  writeFileSync(log4j, QUIET_LOG4J2);

  const clusterId = randomClusterId();
  const classpath = `${install.libsDir}/*`;
  const jvmCommon = [`-Dlog4j2.configurationFile=${log4j}`, '-Djava.awt.headless=true', '-cp', classpath];

  const format = supervisor.spawn({
    name: 'kafka-storage-format',
    command: install.java,
    // A short-lived tool: the client compiler and serial GC start faster.
    args: [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      ...jvmCommon,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '--cluster-id',
      clusterId,
      '--config',
      serverProperties,
    ],
    cwd: dir,
    logFile,
  });
  const formatCode = await format.exited;
  if (formatCode !== 0) throw new Error(`kafka storage format failed (exit ${formatCode}):\n${format.logTail()}`);
  await format.stop(0);

  const heap = options.heap ?? '512m';
  const proc = supervisor.spawn({
    name: `kafka:${brokerPort}`,
    command: install.java,
    args: [`-Xmx${heap}`, `-Xms${heap === '512m' ? '256m' : heap}`, ...jvmCommon, 'kafka.Kafka', serverProperties],
    cwd: dir,
    logFile,
  });
  const brokers = [`${HOST}:${brokerPort}`];
  try {
    await waitUntil(() => clusterAnswers(brokers), {
      what: `kafka on ${brokers[0]}`,
      timeoutMs: options.timeoutMs ?? 60_000,
      process: proc,
      intervalMs: 250,
    });
  } catch (error) {
    await proc.stop(0);
    throw error;
  }
  return { brokers, clusterId, process: proc, stop: () => proc.stop() };
}

/**
 * 16 random bytes in unpadded base64url, as `kafka-storage random-uuid` prints; like Kafka
 * we draw again when it starts with '-', which the command line would take for an option.
 */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function brokerConfig(brokerPort: number, controllerPort: number, dataDir: string): string {
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.bootstrap.servers': `${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${brokerPort},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${brokerPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': 'true',
  };
  return (
    Object.entries(settings)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n') + '\n'
  );
}

const QUIET_LOG4J2 = [
  'status = warn',
  'appender.console.type = Console',
  'appender.console.name = STDERR',
  'appender.console.target = SYSTEM_ERR',
  'appender.console.layout.type = PatternLayout',
  'appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n',
  'rootLogger.level = warn',
  'rootLogger.appenderRef.console.ref = STDERR',
  '',
].join('\n');

async function clusterAnswers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'larder-testing-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0 || cluster.controller === null) return false;
    // Finding a group coordinator creates __consumer_offsets; until it is loaded, consumer
    // groups fail to join. Waiting here keeps that start-up delay out of the tests.
    const { groups } = await admin.describeGroups(['larder-testing-probe']);
    return groups.length === 1;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
