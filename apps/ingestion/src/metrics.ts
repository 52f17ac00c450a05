import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The ingestion service's Prometheus metrics, in a registry of their own
 * that setup hands to the server, whose /metrics endpoint serves them.
 */
export class IngestionMetrics {
  readonly registry = new Registry();
  readonly events: Counter<'project' | 'source' | 'topic' | 'partition'>;
  readonly deadLetters: Counter<'project' | 'source' | 'topic' | 'stage'>;
  readonly lag: Gauge<'project' | 'source' | 'topic' | 'partition'>;
  readonly eventsPerSecond: Gauge<'project' | 'source' | 'topic'>;
  readonly retries: Counter<'project' | 'source' | 'topic'>;
  readonly stalled: Gauge<'project' | 'source' | 'topic' | 'partition'>;
  readonly deadLettersTruncated: Counter<'project' | 'source' | 'topic'>;
  readonly deadLetterSplits: Counter<'project' | 'source' | 'topic'>;
  readonly deadLettersDropped: Counter<'project' | 'source' | 'topic'>;
  readonly poisonSplits: Counter<'project' | 'source' | 'topic'>;
  readonly pushedRows: Counter<'rpc' | 'outcome'>;
  readonly schemaViolations: Counter<'project' | 'view' | 'feature' | 'type' | 'outcome'>;
  /** Per-consumer rates, read at scrape time. */
  rates: () => { project: string; source: string; topic: string; value: number }[] = () => [];

  constructor() {
    const registers = [this.registry];
    const rates = (): ReturnType<IngestionMetrics['rates']> => this.rates();
    this.events = new Counter({
      name: 'larder_ingestion_events_total',
      help: 'Kafka messages handled (written, dead-lettered or both); their offsets are committed right after, in the background.',
      labelNames: ['project', 'source', 'topic', 'partition'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'larder_ingestion_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by stage (decode, validate, late, write).',
      labelNames: ['project', 'source', 'topic', 'stage'],
      registers,
    });
    this.lag = new Gauge({
      name: 'larder_ingestion_consumer_lag',
      help: 'Log end offset minus committed offset, per assigned partition, as last seen.',
      labelNames: ['project', 'source', 'topic', 'partition'],
      registers,
    });
    this.retries = new Counter({
      name: 'larder_ingestion_write_retries_total',
      help: 'Batches retried because a store or the dead-letter topic failed (the partition waits meanwhile).',
      labelNames: ['project', 'source', 'topic'],
      registers,
    });
    this.stalled = new Gauge({
      name: 'larder_ingestion_partition_stalled_seconds',
      help: 'How long the batch a partition holds has been failing (updated at each attempt; 0 once it moves). Alert when it keeps growing.',
      labelNames: ['project', 'source', 'topic', 'partition'],
      registers,
    });
    const sourceLabels = ['project', 'source', 'topic'] as const;
    this.deadLettersTruncated = new Counter({
      name: 'larder_ingestion_dead_letters_truncated_total',
      help: 'Dead letters too large for the dead-letter topic, sent with their value cut (header larder.error.truncated).',
      labelNames: sourceLabels,
      registers,
    });
    this.deadLetterSplits = new Counter({
      name: 'larder_ingestion_dead_letter_splits_total',
      help: 'Produce requests of dead letters the broker refused for their content, sent again in halves or cut down.',
      labelNames: sourceLabels,
      registers,
    });
    this.deadLettersDropped = new Counter({
      name: 'larder_ingestion_dead_letters_dropped_total',
      help: 'Dead letters the broker refused even cut down to their headers: logged and dropped so the partition moves on.',
      labelNames: sourceLabels,
      registers,
    });
    this.poisonSplits = new Counter({
      name: 'larder_ingestion_poison_splits_total',
      help: 'Batches the online store refused for a row, written again in halves to dead-letter the message at fault.',
      labelNames: sourceLabels,
      registers,
    });
    this.schemaViolations = new Counter({
      name: 'larder_ingestion_schema_violations_total',
      help: "Rows breaking their view's TFDV schema, by feature, TFDV anomaly type and outcome (dead_letter: not written; counted: written, as the view's policy says).",
      labelNames: ['project', 'view', 'feature', 'type', 'outcome'],
      registers,
    });
    this.pushedRows = new Counter({
      name: 'larder_ingestion_push_rows_total',
      help: 'Rows received by Push and WriteToOnlineStore (gRPC and HTTP), by outcome.',
      labelNames: ['rpc', 'outcome'],
      registers,
    });
    this.eventsPerSecond = new Gauge({
      name: 'larder_ingestion_events_per_second',
      help: 'Messages handled per second over the last minute, per consumer.',
      labelNames: ['project', 'source', 'topic'],
      registers,
      collect() {
        this.reset();
        for (const { value, ...labels } of rates()) this.set(labels, value);
      },
    });
  }
}
