/** Sends one OffsetCommit for the given partitions (next offset to read, as a string). */
export type CommitFn = (offsets: { partition: number; offset: string }[]) => Promise<void>;

/**
 * Commits offsets whose writes are done, off the batch path. Waiting a broker
 * round trip per batch put the commit between every fetch (and the broker
 * answers one request per connection at a time, so 4 partitions' commits
 * queued behind each other). Here a batch only marks its offset once its
 * writes succeeded; at most one OffsetCommit is in flight, carrying every
 * partition's newest mark, and commits are at least `intervalMs` apart.
 * At least once still holds: nothing is marked before its writes succeeded,
 * and a crash replays at most the marks of the last interval (writes are
 * idempotent by event time).
 */
export class OffsetCommitter {
  /** Partition -> next offset to read, for partitions whose writes up to it succeeded. */
  private readonly ready = new Map<number, bigint>();
  private owned = new Set<number>();
  /** Partition -> greatest offset sent to the broker: a late, older mark never moves it back. */
  private readonly sent = new Map<number, bigint>();
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCommitAt = 0;
  private closed = false;

  constructor(
    private readonly commit: CommitFn,
    private readonly intervalMs: number,
    private readonly onError: (error: Error) => void,
  ) {}

  /** The partitions now assigned: marks of others are dropped (their next owner commits them). */
  assign(partitions: readonly number[]): void {
    this.owned = new Set(partitions);
    for (const p of [...this.ready.keys()]) if (!this.owned.has(p)) this.ready.delete(p);
    for (const p of [...this.sent.keys()]) if (!this.owned.has(p)) this.sent.delete(p);
  }

  /** Every message of `partition` before `next` is written: commit it soon. */
  mark(partition: number, next: bigint): void {
    if (this.closed || !this.owned.has(partition) || next <= (this.sent.get(partition) ?? -1n)) return;
    const current = this.ready.get(partition);
    if (current === undefined || next > current) this.ready.set(partition, next);
    this.schedule();
  }

  /** Marks not yet sent to the broker (or sent and failed). */
  get pending(): number {
    return this.ready.size;
  }

  /** Commits what is marked now and waits for it (before leaving the group). */
  async flush(): Promise<void> {
    this.clearTimer();
    await this.inFlight;
    await this.send();
  }

  /** Drops every mark and stops committing. */
  close(): void {
    this.closed = true;
    this.clearTimer();
    this.ready.clear();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.inFlight !== undefined || this.ready.size === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.send();
      },
      Math.max(0, this.lastCommitAt + this.intervalMs - Date.now()),
    );
  }

  private send(): Promise<void> {
    if (this.closed || this.inFlight !== undefined || this.ready.size === 0) return this.inFlight ?? Promise.resolve();
    const offsets = [...this.ready].map(([partition, next]) => ({ partition, offset: next.toString() }));
    for (const [partition, next] of this.ready) this.sent.set(partition, next);
    this.ready.clear();
    this.lastCommitAt = Date.now();
    this.inFlight = this.commit(offsets)
      .catch((error: unknown) => {
        // Put back what a newer mark has not superseded; the next commit carries it.
        for (const { partition, offset } of offsets) {
          const next = BigInt(offset);
          const current = this.ready.get(partition);
          if (this.owned.has(partition) && (current === undefined || current < next)) this.ready.set(partition, next);
        }
        this.onError(error as Error);
      })
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    return this.inFlight;
  }
}
