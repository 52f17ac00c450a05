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
  readonly pushedRows: Counter<'rpc' | 'outcome'>;
  /** Per-consumer rates, read at scrape time. */
  rates: () => { project: string; source: string; topic: string; value: number }[] = () => [];

  constructor() {
    const registers = [this.registry];
    const rates = (): ReturnType<IngestionMetrics['rates']> => this.rates();
    this.events = new Counter({ name: 'larder_ingestion_events_total', help: 'Kafka messages handled (written, dead-lettered or both); their offsets are committed right after, in the background.', labelNames: ['project', 'source', 'topic', 'partition'], registers });
    this.deadLetters = new Counter({ name: 'larder_ingestion_dead_letters_total', help: 'Messages sent to the dead-letter topic, by stage (decode, validate, late, write).', labelNames: ['project', 'source', 'topic', 'stage'], registers });
    this.lag = new Gauge({ name: 'larder_ingestion_consumer_lag', help: 'Log end offset minus committed offset, per assigned partition, as last seen.', labelNames: ['project', 'source', 'topic', 'partition'], registers });
    this.retries = new Counter({ name: 'larder_ingestion_write_retries_total', help: 'Batches retried because a store or the dead-letter topic failed (the partition waits meanwhile).', labelNames: ['project', 'source', 'topic'], registers });
    this.pushedRows = new Counter({ name: 'larder_ingestion_push_rows_total', help: 'Rows received by Push and WriteToOnlineStore (gRPC and HTTP), by outcome.', labelNames: ['rpc', 'outcome'], registers });
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
