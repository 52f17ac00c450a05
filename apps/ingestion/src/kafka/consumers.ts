import { create, toBinary } from '@bufbuild/protobuf';
import { sourceEndpointRefusal } from '@larder/core';
import { ingestionV1, registryV1 } from '@larder/proto';
import type { Logger } from '@larder/rpc';
import { UnwritableViewError, targetsOf, unwritable, withoutOfflineStore } from '../targets';
import type { RegistryView, ViewTarget } from '../targets';
import { DecodeError } from './decode';
import { SourceConsumer } from './source-consumer';
import type { ConsumerDeps } from './source-consumer';

/** A registry copy that announces changes (RegistryClient fits). */
export interface WatchedRegistry extends RegistryView {
  onChange(listener: () => void): () => void;
}

export interface ConsumersOptions extends ConsumerDeps {
  registry: WatchedRegistry;
  /** Only this project's sources; empty means every project. */
  project: string;
  /** Relative file paths of batch sources are resolved against this folder. */
  basePath: string;
}

interface Running {
  consumer: SourceConsumer;
  /** The source's definition as bytes: a change means a new consumer. */
  fingerprint: string;
}

/**
 * Runs one SourceConsumer per Kafka source that some feature view streams
 * from, and follows the registry: a new source starts consuming, a changed
 * one is restarted (its committed offsets carry over), a removed one stops —
 * all without restarting the service.
 */
export class KafkaConsumers {
  private readonly running = new Map<string, Running>();
  /** Sources that cannot be consumed as defined, reported as FAILED with the reason. */
  private rejected = new Map<string, ingestionV1.ConsumerStatus>();
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: ConsumersOptions) {
    this.log = options.logger.child({ component: 'kafka' });
  }

  /** Starts the consumers the registry asks for and follows its changes. */
  start(): Promise<void> {
    this.unsubscribe = this.options.registry.onChange(() => void this.reconcile());
    return this.reconcile();
  }

  /** Resolves once every change seen so far has been applied. */
  settled(): Promise<void> {
    return this.queue;
  }

  reconcile(): Promise<void> {
    this.queue = this.queue.then(() => this.apply()).catch((error: unknown) => this.log.error('applying registry change to consumers failed', { error }));
    return this.queue;
  }

  private desired(): Map<string, { project: string; source: registryV1.DataSource; targets: ViewTarget[] }> {
    const { registry } = this.options;
    const wanted = new Map<string, { project: string; source: registryV1.DataSource; targets: ViewTarget[] }>();
    const rejected = new Map<string, ingestionV1.ConsumerStatus>();
    const reject = (project: string, source: registryV1.DataSource, error: string): void => {
      this.log.error('cannot consume a Kafka source', { project, source: source.name, error });
      const topic = source.kind.case === 'kafka' ? source.kind.value.topic : '';
      rejected.set(
        `${project}/${source.name}`,
        create(ingestionV1.ConsumerStatusSchema, { project, dataSource: source.name, topic, state: ingestionV1.ConsumerState.FAILED, lastError: error }),
      );
    };
    const projects = this.options.project === '' ? registry.projectNames() : [this.options.project];
    for (const project of projects) {
      for (const source of registry.dataSources(project)) {
        if (source.kind.case !== 'kafka') continue;
        // Before anything else, and long before a socket: a source written before the
        // allow-list (or applied to a registry with a wider one) is never dialled.
        const refusal = sourceEndpointRefusal(source, this.options.endpoints);
        if (refusal !== undefined) {
          reject(project, source, refusal);
          continue;
        }
        let targets: ViewTarget[];
        try {
          targets = targetsOf(registry, project, source, this.options.basePath);
        } catch (error) {
          if (!(error instanceof UnwritableViewError)) throw error;
          reject(project, source, error.message);
          continue;
        }
        if (targets.length === 0) continue;
        // No offline store ('none'): offline views are written online only, as the configuration promises.
        if (this.options.offline === undefined) targets = targets.map(withoutOfflineStore);
        const problem = targets.map(unwritable).find((p) => p !== undefined);
        if (problem !== undefined) {
          reject(project, source, problem);
          continue;
        }
        wanted.set(`${project}/${source.name}`, { project, source, targets });
      }
    }
    this.rejected = rejected;
    return wanted;
  }

  private async apply(): Promise<void> {
    if (this.closed) return;
    const wanted = this.desired();
    for (const [key, running] of [...this.running]) {
      const next = wanted.get(key);
      if (next === undefined || fingerprint(next.source) !== running.fingerprint) {
        this.running.delete(key);
        await running.consumer.stop();
      }
    }
    for (const [key, { project, source, targets }] of wanted) {
      const running = this.running.get(key);
      if (running !== undefined) {
        running.consumer.setTargets(targets);
        continue;
      }
      let consumer: SourceConsumer;
      try {
        consumer = new SourceConsumer(project, source, targets, this.options);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        this.log.error('cannot consume a Kafka source: its message format is unusable', { project, source: source.name, error: error.message });
        this.rejected.set(
          key,
          create(ingestionV1.ConsumerStatusSchema, {
            project,
            dataSource: source.name,
            topic: source.kind.case === 'kafka' ? source.kind.value.topic : '',
            state: ingestionV1.ConsumerState.FAILED,
            lastError: error.message,
          }),
        );
        continue;
      }
      this.running.set(key, { consumer, fingerprint: fingerprint(source) });
      // A broker that is down now does not stop the other sources from starting.
      consumer.start().catch((error: unknown) => this.log.error('consumer failed to start', { project, source: source.name, error }));
    }
  }

  statuses(project = '', dataSource = ''): ingestionV1.ConsumerStatus[] {
    return [...[...this.running.values()].map((r) => r.consumer.status()), ...this.rejected.values()]
      .filter((c) => (project === '' || c.project === project) && (dataSource === '' || c.dataSource === dataSource))
      .sort((a, b) => a.project.localeCompare(b.project) || a.dataSource.localeCompare(b.dataSource));
  }

  rates(): { project: string; source: string; topic: string; value: number }[] {
    return [...this.running.values()].map(({ consumer: c }) => ({ project: c.project, source: c.sourceName, topic: c.topic, value: c.eventsPerSecond() }));
  }

  /** Stops every consumer (drain at shutdown): in-flight batches end uncommitted and are redelivered. */
  async stop(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    await this.queue;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.consumer.stop()));
  }
}

function fingerprint(source: registryV1.DataSource): string {
  const { meta: _meta, description: _d, tags: _t, owner: _o, ...definition } = source;
  return Buffer.from(toBinary(registryV1.DataSourceSchema, { ...definition, description: '', tags: {}, owner: '' } as registryV1.DataSource)).toString(
    'base64',
  );
}
