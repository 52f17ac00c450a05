import { formatDurationMs, parseDurationMs } from './duration';

/** The outcome of parsing one raw value: the typed value, or what was expected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

interface KeyOptions<T> {
  /** Environment variable that overrides this key, e.g. LARDER_GRPC_PORT. */
  env?: string;
  /** Used when neither file, environment nor overrides set the key; no default means required. */
  default?: T;
  doc?: string;
}

/**
 * One leaf of a configuration schema. `fromFile` takes what YAML produced
 * (numbers, booleans, arrays, strings); `fromEnv` takes a string.
 */
export class ConfigKey<T> {
  readonly env: string | undefined;
  readonly defaultValue: T | undefined;
  readonly hasDefault: boolean;
  readonly doc: string | undefined;

  constructor(
    readonly type: string,
    readonly expected: string,
    private readonly parse: (raw: unknown, fromEnv: boolean) => Parsed<T>,
    options: KeyOptions<T>,
  ) {
    this.env = options.env;
    this.defaultValue = options.default;
    this.hasDefault = 'default' in options;
    this.doc = options.doc;
  }

  fromFile(raw: unknown): Parsed<T> {
    return this.parse(raw, false);
  }

  fromEnv(raw: string): Parsed<T> {
    return this.parse(raw, true);
  }
}

export type ConfigSchema = { readonly [key: string]: ConfigKey<unknown> | ConfigSchema };

export type ConfigOf<S extends ConfigSchema> = {
  readonly [K in keyof S]: S[K] extends ConfigKey<infer T> ? T : S[K] extends ConfigSchema ? ConfigOf<S[K]> : never;
};

/** Overrides given in code (tests, `npm start`): a partial tree of typed values. */
export type ConfigOverrides<S extends ConfigSchema> = {
  readonly [K in keyof S]?: S[K] extends ConfigKey<infer T> ? T : S[K] extends ConfigSchema ? ConfigOverrides<S[K]> : never;
};

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

export function string(options: KeyOptions<string> & { nonEmpty?: boolean } = {}): ConfigKey<string> {
  const expected = options.nonEmpty ? 'a non-empty string' : 'a string';
  return new ConfigKey(
    'string',
    expected,
    (raw) => {
      if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
      if (typeof raw !== 'string' || (options.nonEmpty && raw === '')) return fail(expected);
      return ok(raw);
    },
    options,
  );
}

export function int(options: KeyOptions<number> & { min?: number; max?: number } = {}): ConfigKey<number> {
  const { min, max } = options;
  const range =
    min !== undefined && max !== undefined
      ? ` from ${min} to ${max}`
      : min !== undefined
        ? ` of at least ${min}`
        : max !== undefined
          ? ` of at most ${max}`
          : '';
  const expected = `an integer${range}`;
  return new ConfigKey(
    'int',
    expected,
    (raw) => {
      let n: number | undefined;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^\s*[-+]?\d+\s*$/.test(raw)) n = Number(raw);
      if (n === undefined || !Number.isSafeInteger(n)) return fail(expected);
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) return fail(expected);
      return ok(n);
    },
    options,
  );
}

const trueWords = new Set(['true', '1', 'yes', 'on']);
const falseWords = new Set(['false', '0', 'no', 'off']);

export function bool(options: KeyOptions<boolean> = {}): ConfigKey<boolean> {
  return new ConfigKey(
    'bool',
    'a boolean (true or false)',
    (raw, fromEnv) => {
      if (typeof raw === 'boolean') return ok(raw);
      if (fromEnv && typeof raw === 'string') {
        const word = raw.trim().toLowerCase();
        if (trueWords.has(word)) return ok(true);
        if (falseWords.has(word)) return ok(false);
      }
      return fail('a boolean (true or false)');
    },
    options,
  );
}

/** A duration such as "30s" or "5m"; the typed value is in milliseconds. */
export function duration(options: KeyOptions<number> & { min?: number; max?: number } = {}): ConfigKey<number> {
  const { min, max } = options;
  let expected = 'a duration such as "500ms", "30s" or "5m"';
  if (min !== undefined) expected += ` of at least ${formatDurationMs(min)}`;
  if (max !== undefined) expected += `${min !== undefined ? ' and' : ' of'} at most ${formatDurationMs(max)}`;
  return new ConfigKey(
    'duration',
    expected,
    (raw) => {
      const ms = typeof raw === 'string' ? parseDurationMs(raw) : raw === 0 ? 0 : undefined;
      if (ms === undefined) return fail(expected);
      if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) return fail(expected);
      return ok(ms);
    },
    options,
  );
}

export function oneOf<const V extends string>(values: readonly V[], options: KeyOptions<V> = {}): ConfigKey<V> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return new ConfigKey(
    'enum',
    expected,
    (raw) => {
      return typeof raw === 'string' && (values as readonly string[]).includes(raw) ? ok(raw as V) : fail(expected);
    },
    options,
  );
}

/** A list of strings: a YAML sequence in the file, comma-separated in the environment. */
export function stringList(options: KeyOptions<readonly string[]> = {}): ConfigKey<readonly string[]> {
  const expected = 'a list of strings';
  return new ConfigKey(
    'list',
    expected,
    (raw, fromEnv) => {
      if (fromEnv && typeof raw === 'string') {
        return ok(
          raw
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        );
      }
      if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return ok([...(raw as string[])]);
      return fail(expected);
    },
    options,
  );
}
