import type { Io } from './output';
import { Progress } from './progress';

function capture(errIsTty: boolean): Io & { text: () => string } {
  let err = '';
  return {
    out: () => undefined,
    err: (text: string) => {
      err += text;
    },
    errIsTty,
    cwd: process.cwd(),
    env: {},
    text: () => err,
  };
}

describe('Progress', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  /** A step whose work finishes after `ms` of fake time. */
  async function step(progress: Progress, ms: number, fails = false): Promise<void> {
    const running = progress.step(
      'Applying',
      () => new Promise<string>((resolve, reject) => setTimeout(() => (fails ? reject(new Error('no')) : resolve('3 changes')), ms)),
      (r) => r,
    );
    const settled = running.catch(() => undefined);
    await jest.advanceTimersByTimeAsync(ms);
    await settled;
    if (fails) await expect(running).rejects.toThrow('no');
  }

  it('on a pipe: a quick step prints only its outcome; a slow one its elapsed time every 5 s', async () => {
    const quick = capture(false);
    await step(new Progress(quick, true, { now: Date.now }), 400);
    expect(quick.text()).toBe('Applying: 3 changes (400 ms)\n');

    const slow = capture(false);
    await step(new Progress(slow, true, { now: Date.now }), 7_500, true);
    expect(slow.text()).toBe('Applying … (1s)\nApplying … (6s)\nApplying: failed (7500 ms)\n');
  });

  it('on a terminal: redraws the step in place, then replaces it with the outcome', async () => {
    const io = capture(true);
    await step(new Progress(io, true, { now: Date.now }), 2_200);
    expect(io.text()).toBe('\r\x1b[KApplying …\r\x1b[KApplying … (1s)\r\x1b[KApplying … (2s)\r\x1b[KApplying: 3 changes (2200 ms)\n');
  });

  it('status lines: on a pipe, important ones always and the others at most every pipeEveryMs', () => {
    const io = capture(false);
    const progress = new Progress(io, true, { pipeEveryMs: 10_000, now: Date.now });
    progress.note('job j1 started');
    progress.status('0/2 views', true);
    jest.advanceTimersByTime(3_000);
    progress.status('0/2 views, more rows');
    progress.status('1/2 views', true);
    jest.advanceTimersByTime(10_000);
    progress.status('1/2 views, more rows');
    progress.end();
    progress.note('job j1 succeeded');
    expect(io.text()).toBe('job j1 started\n0/2 views\n1/2 views\n1/2 views, more rows\njob j1 succeeded\n');
  });

  it('status lines on a terminal: each redrawn, the last kept when ended', () => {
    const io = capture(true);
    const progress = new Progress(io, true);
    progress.status('[----] 0%');
    progress.status('[####] 100%');
    progress.end();
    progress.note('job j1 succeeded');
    expect(io.text()).toBe('\r\x1b[K[----] 0%\r\x1b[K[####] 100%\njob j1 succeeded\n');
  });

  it('prints nothing when quiet, and leaves no timer behind', async () => {
    const io = capture(true);
    const progress = new Progress(io, false, { now: Date.now });
    await step(progress, 3_000);
    progress.status('x', true);
    progress.note('y');
    progress.end('z');
    expect(io.text()).toBe('');
    expect(jest.getTimerCount()).toBe(0);
  });
});
