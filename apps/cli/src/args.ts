import { parseArgs } from 'node:util';

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
 * Reads a command's arguments. Tokenising is node:util's parseArgs (`--name
 * value`, `--name=value`, `-n value`, grouped switches `-qo json`, `--` ending
 * the flags). Its strict mode is left off because its errors are generic
 * ("Unknown option '--prunee'"): the checks are ours, so that each message
 * names the flag, offers the closest known flag, lists the allowed choices,
 * and accepts `--no-<switch>` and `--switch=false`.
 */
export function parseCommandArgs<F extends FlagSpecs>(argv: readonly string[], specs: F, command?: string): ParsedArgs<F> {
  const { tokens } = parseArgs({ args: [...argv], options: nodeOptions(specs), strict: false, allowPositionals: true, tokens: true });
  const flags: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const fail = (message: string): never => {
    throw new UsageError(message, command);
  };
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const short = !token.rawName.startsWith('--');
    // node keeps the `=` of `-o=json` in the value; people mean json.
    const inline = token.inlineValue === true ? (short ? (token.value ?? '').replace(/^=/, '') : token.value) : undefined;
    const spec = specs[token.name];
    if (spec === undefined) {
      const negated = token.name.startsWith('no-') ? token.name.slice(3) : undefined;
      if (!short && negated !== undefined && specs[negated]?.type === 'boolean') {
        if (inline !== undefined) fail(`--${token.name} takes no value`);
        flags[negated] = false;
        continue;
      }
      fail(short ? `unknown option ${token.rawName}` : `unknown option --${token.name}${didYouMean(token.name, Object.keys(specs))}`);
      continue;
    }
    if (spec.type === 'boolean') {
      if (inline === undefined) flags[token.name] = true;
      else if (inline === 'true' || inline === 'false') flags[token.name] = inline === 'true';
      else fail(`--${token.name} is a switch: expected no value, true or false, got "${inline}"`);
      continue;
    }
    // A following flag is not taken as the value: `--output -q` forgot the value.
    const value = inline ?? (token.value !== undefined && !(token.value.startsWith('-') && token.value !== '-') ? token.value : undefined);
    if (value === undefined) {
      fail(`--${token.name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
      continue;
    }
    if (spec.choices && !spec.choices.includes(value)) fail(`--${token.name} must be one of ${spec.choices.join(', ')}; got "${value}"`);
    if (spec.type === 'list') flags[token.name] = [...((flags[token.name] as string[] | undefined) ?? []), value];
    else flags[token.name] = value;
  }
  return { positionals, flags: flags as FlagValues<F> };
}

type NodeOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function nodeOptions(specs: FlagSpecs): NodeOptions {
  const options: NonNullable<NodeOptions> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.type === 'list' ? { multiple: true } : {}),
      ...(spec.short === undefined ? {} : { short: spec.short }),
    };
  }
  return options;
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

/**
 * ` (did you mean --prune?)` for the known flag closest to a mistyped one (at
 * most two edits away), or nothing. Kept here rather than using @larder/core's
 * suggestions: loading core's barrel (CEL, protobuf) would slow every command's start.
 */
export function didYouMean(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(candidate, name);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean --${best}?)`;
}

/** Levenshtein distance. */
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
