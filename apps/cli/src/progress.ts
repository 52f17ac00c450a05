import type { Io } from './output';

/**
 * Progress on stderr (stdout stays clean for --output json): one line per
 * step with its duration, and while a step runs longer than a second, an
 * elapsed-time ticker (redrawn in place on a terminal, a line every few
 * seconds otherwise).
 */
export class Progress {
  private started = 0;
  private label = '';
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(
    private readonly io: Io,
    private readonly enabled: boolean,
    private readonly tickMs = 1000,
  ) {}

  async step<T>(label: string, work: () => Promise<T>, done?: (result: T) => string): Promise<T> {
    this.begin(label);
    try {
      const result = await work();
      this.end(done ? done(result) : 'done');
      return result;
    } catch (error) {
      this.end('failed');
      throw error;
    }
  }

  private begin(label: string): void {
    this.label = label;
    this.started = performance.now();
    this.lastTick = 0;
    if (!this.enabled) return;
    // On a pipe, a step that finishes within a tick prints only its outcome.
    if (this.io.errIsTty) this.io.err(`${label} …`);
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  private tick(): void {
    const seconds = (performance.now() - this.started) / 1000;
    if (this.io.errIsTty) this.io.err(`\r${this.label} … ${seconds.toFixed(0)}s`);
    else if (this.lastTick === 0 || seconds - this.lastTick >= 5) {
      this.lastTick = seconds;
      this.io.err(`${this.label} … (${seconds.toFixed(0)}s)\n`);
    }
  }

  private end(outcome: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.enabled) return;
    const ms = Math.round(performance.now() - this.started);
    if (this.io.errIsTty) this.io.err(`\r\x1b[K${this.label}: ${outcome} (${ms} ms)\n`);
    else this.io.err(`${this.label}: ${outcome} (${ms} ms)\n`);
  }
}
