export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry `fields` too. */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where JSON lines go; stdout by default. Tests pass their own. */
  write?: (line: string) => void;
  now?: () => Date;
}

const RESERVED = new Set(['time', 'level', 'service', 'msg']);
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** JSON lines: {"time","level","service","msg", ...fields}. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? (() => new Date());
  return new JsonLogger(options.service, options.level ?? 'info', {}, write, now);
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return createLogger({ service: 'silent', level: 'error', write: () => undefined });
}

class JsonLogger implements Logger {
  constructor(
    private readonly service: string,
    readonly level: LogLevel,
    private readonly bound: LogFields,
    private readonly write: (line: string) => void,
    private readonly now: () => Date,
  ) {}

  isEnabled(level: LogLevel): boolean {
    return rank[level] >= rank[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.service, this.level, { ...this.bound, ...fields }, this.write, this.now);
  }

  private log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (!this.isEnabled(level)) return;
    const record: LogFields = { time: this.now().toISOString(), level, service: this.service, msg };
    for (const source of [this.bound, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) {
        if (!RESERVED.has(key)) record[key] = value;
      }
    }
    let line: string;
    try {
      line = JSON.stringify(record, replacer);
    } catch {
      line = JSON.stringify({ time: record.time, level, service: this.service, msg, logError: 'unserializable fields' });
    }
    this.write(line + '\n');
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return serializeError(value, 0);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function serializeError(error: Error, depth: number): LogFields {
  const out: LogFields = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.stack) out.stack = error.stack;
  if (error.cause !== undefined && depth < 5) {
    out.cause = error.cause instanceof Error ? serializeError(error.cause, depth + 1) : error.cause;
  }
  return out;
}
