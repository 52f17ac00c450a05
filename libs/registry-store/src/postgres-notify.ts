import type { registryV1 } from '@larder/proto';
import { backoffDelay } from '@larder/core';
import { Client } from 'pg';
import { ChangeFeed } from './change-feed';
import type { ChangeListener } from './registry-store';

/** Where the LISTEN loop reads what was committed; the store's own queries. */
export interface ChangeSource {
  /** The entries after `version`, in order; undefined when the kept changes no longer reach back to it. */
  changesSince(version: bigint): Promise<registryV1.WatchRegistryResponse[] | undefined>;
  snapshot(): Promise<registryV1.WatchRegistryResponse>;
}

/**
 * The change stream of a PostgreSQL registry: a dedicated connection LISTENing on the
 * channel every commit NOTIFYs (this instance's and every other replica's), and a pump
 * that publishes each committed version once and in order to this instance's
 * subscribers. Kept apart from the store's reads and writes: it owns a connection of its
 * own, reconnects on its own, and never takes part in a transaction.
 */
export class PostgresChangeStream {
  private readonly feed = new ChangeFeed();
  private listener: Client | undefined;
  private pumping: Promise<void> = Promise.resolve();
  private closed = false;
  // The version subscribers have already seen.
  private lastPublished = 0n;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly source: ChangeSource,
  ) {}

  subscribe(listener: ChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  /**
   * Connects and LISTENs, publishing what is committed after `version` (the store's
   * version when opened). A failure of the first connection is thrown, later ones retried.
   */
  start(version: bigint): Promise<void> {
    this.lastPublished = version;
    return this.listen(0);
  }

  /** Publishes every version after the last one published, in order; one pump at a time. */
  pump(): Promise<void> {
    const run = this.pumping.then(async () => {
      if (this.closed) return;
      const replay = await this.source.changesSince(this.lastPublished).catch(() => null);
      if (replay === null) return;
      if (replay === undefined) {
        // The kept changes no longer reach back to what subscribers saw: start them over.
        const snapshot = await this.source.snapshot().catch(() => undefined);
        if (snapshot === undefined || snapshot.version <= this.lastPublished) return;
        this.lastPublished = snapshot.version;
        this.feed.publish(snapshot);
        return;
      }
      for (const entry of replay) {
        if (entry.version <= this.lastPublished) continue;
        this.lastPublished = entry.version;
        this.feed.publish(entry);
      }
    });
    this.pumping = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.feed.close();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pumping.catch(() => undefined);
  }

  /** A dedicated connection LISTENing for commits of any instance; reconnects with backoff. */
  private async listen(attempt: number): Promise<void> {
    const client = new Client({ connectionString: this.url });
    const retry = (): void => {
      if (this.closed || this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => undefined);
      const delay = backoffDelay(attempt, { initialMs: 100, maxMs: 5_000 });
      this.reconnectTimer = setTimeout(() => void this.listen(attempt + 1).catch(() => undefined), delay);
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', () => void this.pump());
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      if (attempt === 0) {
        this.listener = undefined;
        await client.end().catch(() => undefined);
        throw error;
      }
      retry();
      return;
    }
    // Whatever was committed while we were not listening.
    await this.pump();
  }
}
