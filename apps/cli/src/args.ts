/** A command line the user got wrong: printed with usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagType = 'string' | 'boolean' | 'list';

export interface FlagSpec {
  type: FlagType;
  /** One-letter alias, without the dash. */
  short?: string;
  /** Placeholder in help, e.g. "host:port". */
  value?: string;
  help: string;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<F extends FlagSpecs> = {
  [K in keyof F]?: F[K]['type'] extends 'boolean' ? boolean : F[K]['type'] extends 'list' ? string[] : string;
};

export interface ParsedArgs<F extends FlagSpecs> {
  positionals: string[];
  flags: FlagValues<F>;
}

/**
 * Parses `--name value`, `--name=value`, `-n value`, boolean `--name` and
 * `--no-name`, repeatable list flags, and `--` ending the flags. Unknown flags,
 * missing values and values outside `choices` are usage errors.
 */
export function parseArgs<F extends FlagSpecs>(argv: readonly string[], specs: F, command?: string): ParsedArgs<F> {
  const flags: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(specs).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      const short = arg.slice(1, 2);
      const long = byShort.get(short);
      if (long === undefined) throw new UsageError(`unknown option -${short}`, command);
      name = long;
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined;
    }
    const spec = specs[name];
    if (spec === undefined && name.startsWith('no-') && specs[name.slice(3)]?.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`, command);
      flags[name.slice(3)] = false;
      continue;
    }
    if (spec === undefined) throw new UsageError(`unknown option --${name}${suggest(name, Object.keys(specs))}`, command);
    if (spec.type === 'boolean') {
      if (inline === undefined) flags[name] = true;
      else if (inline === 'true' || inline === 'false') flags[name] = inline === 'true';
      else throw new UsageError(`--${name} is a switch: expected no value, true or false, got "${inline}"`, command);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`, command);
      value = next;
      i++;
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}; got "${value}"`, command);
    }
    if (spec.type === 'list') flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else flags[name] = value;
  }
  return { positionals, flags: flags as FlagValues<F> };
}

/** "key=value" pairs of a list flag as an object. */
export function parseKeyValues(values: readonly string[] | undefined, flag: string, command?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of values ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} expects key=value, got "${pair}"`, command);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function suggest(name: string, known: readonly string[]): string {
  const close = known.filter((k) => distance(k, name) <= 2);
  return close.length > 0 ? ` (did you mean --${close[0]}?)` : '';
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
