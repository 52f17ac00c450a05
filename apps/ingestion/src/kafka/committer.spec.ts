import { OffsetCommitter } from './committer';

type Offsets = { partition: number; offset: string }[];

/** A commit function that records its calls and answers when told to. */
function broker() {
  const calls: Offsets[] = [];
  const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const commit = (offsets: Offsets) => {
    calls.push(offsets);
    return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
  };
  return { calls, answers, commit };
}

// Fake timers: the committer's interval timer and Date.now move only when a test
// advances them, so what each step sees does not depend on the machine's load.
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);
const sorted = (offsets: Offsets | undefined) => [...(offsets ?? [])].sort((a, b) => a.partition - b.partition);

describe('OffsetCommitter', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends one commit carrying the newest mark of every partition, and at most one at a time', async () => {
    const b = broker();
    const committer = new OffsetCommitter(b.commit, 0, () => undefined);
    committer.assign([0, 1]);
    committer.mark(0, 10n);
    committer.mark(1, 5n);
    committer.mark(0, 20n);
    committer.mark(0, 15n); // an older mark never moves an offset back
    await advance(5);
    expect(b.calls).toHaveLength(1);
    expect(sorted(b.calls[0])).toEqual([
      { partition: 0, offset: '20' },
      { partition: 1, offset: '5' },
    ]);
    committer.mark(1, 7n);
    await advance(5);
    expect(b.calls).toHaveLength(1); // the first is still in flight
    b.answers[0]?.resolve();
    await advance(5);
    expect(b.calls).toHaveLength(2);
    expect(b.calls[1]).toEqual([{ partition: 1, offset: '7' }]);
    b.answers[1]?.resolve();
    committer.close();
  });

  it('a mark older than what was sent (a batch re-read after a rebalance) never moves the offset back', async () => {
    const b = broker();
    const committer = new OffsetCommitter(b.commit, 0, () => undefined);
    committer.assign([0]);
    committer.mark(0, 20n);
    await advance(5);
    b.answers[0]?.resolve();
    committer.mark(0, 15n);
    await advance(5);
    expect(b.calls).toHaveLength(1);
    expect(committer.pending).toBe(0);
    committer.close();
  });

  it('waits the interval between commits', async () => {
    const b = broker();
    const committer = new OffsetCommitter(b.commit, 150, () => undefined);
    committer.assign([0]);
    committer.mark(0, 1n);
    await advance(10);
    expect(b.calls).toHaveLength(1);
    b.answers[0]?.resolve();
    committer.mark(0, 2n);
    await advance(60);
    expect(b.calls).toHaveLength(1);
    await advance(150);
    expect(b.calls).toHaveLength(2);
    b.answers[1]?.resolve();
    committer.close();
  });

  it('a failed commit is carried by the next one unless a newer mark superseded it', async () => {
    const b = broker();
    const errors: string[] = [];
    const committer = new OffsetCommitter(b.commit, 0, (error) => errors.push(error.message));
    committer.assign([0, 1]);
    committer.mark(0, 10n);
    committer.mark(1, 10n);
    await advance(5);
    committer.mark(1, 12n);
    b.answers[0]?.reject(new Error('coordinator moved'));
    await advance(5);
    expect(errors).toEqual(['coordinator moved']);
    expect(sorted(b.calls[1])).toEqual([
      { partition: 0, offset: '10' },
      { partition: 1, offset: '12' },
    ]);
    b.answers[1]?.resolve();
    committer.close();
  });

  it('drops the marks of partitions no longer assigned, and ignores marks for them', async () => {
    const b = broker();
    const committer = new OffsetCommitter(b.commit, 50, () => undefined);
    committer.assign([0, 1]);
    committer.mark(0, 3n);
    await advance(5);
    b.answers[0]?.resolve();
    committer.mark(0, 4n);
    committer.mark(1, 4n);
    committer.assign([1]);
    committer.mark(0, 9n); // a write of a revoked partition that finished late
    await advance(80);
    expect(b.calls[1]).toEqual([{ partition: 1, offset: '4' }]);
    b.answers[1]?.resolve();
    committer.close();
  });

  it('flush commits at once what is marked and waits for it', async () => {
    let committed: Offsets = [];
    const committer = new OffsetCommitter(
      async (offsets) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        committed = offsets;
      },
      60_000,
      () => undefined,
    );
    committer.assign([2]);
    committer.mark(2, 1n);
    await advance(40); // the first commit goes out at once; the next waits a minute
    committer.mark(2, 8n);
    expect(committer.pending).toBe(1);
    const flushed = committer.flush();
    await advance(20);
    await flushed;
    expect(committed).toEqual([{ partition: 2, offset: '8' }]);
    expect(committer.pending).toBe(0);
    committer.close();
  });
});
