import type { Io } from './output';

export interface ProgressOptions {
  /** How often a running step's elapsed time is refreshed. */
  tickMs?: number;
  /** On a pipe, the least time between two unimportant status lines. */
  pipeEveryMs?: number;
  /** The clock, in milliseconds; tests pass a fake one. */
  now?: () => number;
}

/**
 * Progress on stderr (stdout stays clean for --output json), the one renderer
 * of every command. A status line is redrawn in place on a terminal; on a pipe
 * (a pipeline's log) it becomes a line when it says something new (`important`)
 * and at most every `pipeEveryMs` otherwise, so logs stay short. Two uses:
 * `step()` (one line per step with its duration, and an elapsed-time ticker
 * while it runs longer than a tick) and `status()`/`end()` for a job's bar.
 */
export class Progress {
  private readonly tickMs: number;
  private readonly pipeEveryMs: number;
  private readonly now: () => number;
  /** A status line is on the terminal, not yet ended by a newline. */
  private drawn = false;
  /** When the current status last became a line on a pipe; undefined: not yet. */
  private printedAt: number | undefined;

  constructor(
    private readonly io: Io,
    private readonly enabled: boolean,
    options: ProgressOptions = {},
  ) {
    this.tickMs = options.tickMs ?? 1000;
    this.pipeEveryMs = options.pipeEveryMs ?? 5000;
    this.now = options.now ?? (() => performance.now());
  }

  /** A line of its own (a job started, a job's outcome). */
  note(text: string): void {
    if (!this.enabled) return;
    this.end();
    this.io.err(`${text}\n`);
  }

  /** The current state of something running. */
  status(text: string, important = false): void {
    if (!this.enabled) return;
    if (this.io.errIsTty) {
      this.io.err(`\r\x1b[K${text}`);
      this.drawn = true;
      return;
    }
    const now = this.now();
    if (important || this.printedAt === undefined || now - this.printedAt >= this.pipeEveryMs) {
      this.printedAt = now;
      this.io.err(`${text}\n`);
    }
  }

  /** Ends the status line: replaced by `final` when given, else kept as it was last drawn. */
  end(final?: string): void {
    this.printedAt = undefined;
    if (!this.enabled) return;
    if (this.drawn) this.io.err(final === undefined ? '\n' : `\r\x1b[K${final}\n`);
    else if (final !== undefined) this.io.err(`${final}\n`);
    this.drawn = false;
  }

  /** Runs one step, showing its elapsed time while it runs and `label: outcome (N ms)` after. */
  async step<T>(label: string, work: () => Promise<T>, done?: (result: T) => string): Promise<T> {
    const started = this.now();
    // On a pipe, a step that finishes within a tick prints only its outcome.
    if (this.io.errIsTty) this.status(`${label} …`);
    const timer = this.enabled ? setInterval(() => this.status(`${label} … (${((this.now() - started) / 1000).toFixed(0)}s)`), this.tickMs) : undefined;
    timer?.unref();
    const finish = (outcome: string) => {
      clearInterval(timer);
      this.end(`${label}: ${outcome} (${Math.round(this.now() - started)} ms)`);
    };
    try {
      const result = await work();
      finish(done ? done(result) : 'done');
      return result;
    } catch (error) {
      finish('failed');
      throw error;
    }
  }
}
