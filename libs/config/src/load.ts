import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { ConfigError } from './config-error';
import type { ConfigIssue } from './config-error';
import { ConfigKey } from './keys';
import type { ConfigOf, ConfigOverrides, ConfigSchema } from './keys';

/**
 * Values from a file that is not the service's own configuration (a feature repo's
 * larder.yaml), keyed by the environment variable of the key they set, so one table
 * serves every service's schema. Below the configuration file and the environment.
 */
export interface ConfigPreset {
  /** Env variable name -> the value as YAML gave it, and where it came from ("…/larder.yaml line 5, column 8 (online_store.url)"). */
  readonly byEnv: ReadonlyMap<string, { readonly value: unknown; readonly source: string }>;
  /** Logged with the listening line, e.g. "feature repo /srv/drivers". */
  readonly description?: string;
}

export interface LoadConfigOptions<S extends ConfigSchema> {
  /** Applied after the defaults, before the file: a feature repo's settings. */
  preset?: ConfigPreset;
  /** A YAML file; named in messages as given here. */
  file?: string;
  /** The file's text, when the caller already read it (then `file` only names it). */
  fileText?: string;
  /** Environment variables; pass process.env in mains, a plain object in tests. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Typed values that win over everything else. */
  overrides?: ConfigOverrides<S>;
}

/**
 * Builds a typed configuration from defaults < preset (a feature repo) < YAML
 * file < environment < overrides, validating every key. Throws one ConfigError listing every
 * problem with the key, the bad value and where it came from.
 */
export function loadConfig<S extends ConfigSchema>(schema: S, options: LoadConfigOptions<S> = {}): ConfigOf<S> {
  const issues: ConfigIssue[] = [];
  const values = new Map<string, unknown>();
  const keys = flatten(schema);

  for (const [path, key] of keys) {
    if (key.hasDefault) values.set(path, key.defaultValue);
  }

  if (options.preset !== undefined) {
    for (const [path, key] of keys) {
      const given = key.env === undefined ? undefined : options.preset.byEnv.get(key.env);
      if (given === undefined) continue;
      const parsed = key.fromFile(given.value);
      if (parsed.ok) values.set(path, parsed.value);
      else issues.push(badValue(path, parsed.expected, given.value, given.source));
    }
  }

  if (options.file !== undefined || options.fileText !== undefined) {
    readFile(schema, options, values, issues);
  }

  const env = options.env ?? {};
  for (const [path, key] of keys) {
    if (key.env === undefined) continue;
    const raw = env[key.env];
    if (raw === undefined) continue;
    const parsed = key.fromEnv(raw);
    if (parsed.ok) values.set(path, parsed.value);
    else issues.push(badValue(path, parsed.expected, raw, `environment variable ${key.env}`));
  }

  if (options.overrides) applyOverrides(schema, options.overrides as Record<string, unknown>, '', values, issues);

  for (const [path, key] of keys) {
    if (!values.has(path)) {
      const hint = key.env === undefined ? 'set it in the configuration file' : `set it in the configuration file or with ${key.env}`;
      issues.push({ key: path, problem: `a value is required (${key.expected})`, source: hint });
    }
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return build(schema, '', values) as ConfigOf<S>;
}

function flatten(schema: ConfigSchema, prefix = ''): Array<[string, ConfigKey<unknown>]> {
  return Object.entries(schema).flatMap(([name, entry]) => {
    const path = prefix + name;
    return entry instanceof ConfigKey ? [[path, entry] as [string, ConfigKey<unknown>]] : flatten(entry, `${path}.`);
  });
}

function build(schema: ConfigSchema, prefix: string, values: Map<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(schema)) {
    const path = prefix + name;
    out[name] = entry instanceof ConfigKey ? values.get(path) : build(entry, `${path}.`, values);
  }
  return out;
}

function badValue(key: string, expected: string, raw: unknown, source: string): ConfigIssue {
  return { key, problem: `expected ${expected} but got ${show(raw)}`, source };
}

function show(raw: unknown): string {
  if (raw === null || raw === undefined) return 'nothing';
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'object') return Array.isArray(raw) ? 'a list' : 'a map';
  return String(raw);
}

function readFile<S extends ConfigSchema>(schema: S, options: LoadConfigOptions<S>, values: Map<string, unknown>, issues: ConfigIssue[]): void {
  const name = options.file ?? 'configuration';
  let text = options.fileText;
  if (text === undefined) {
    try {
      text = readFileSync(options.file as string, 'utf8');
    } catch (error) {
      const reason = (error as { code?: string }).code === 'ENOENT' ? 'file not found' : (error as Error).message;
      issues.push({ key: '', problem: `cannot read the configuration file: ${reason}`, source: name });
      return;
    }
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return name;
    const { line, col } = lineCounter.linePos(offset);
    return `${name} line ${line}, column ${col}`;
  };
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      issues.push({ key: '', problem: `invalid YAML: ${error.message.split('\n')[0]}`, source: at(error.pos[0]) });
    }
    return;
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return;
  walk(schema, root, '', values, issues, at);
}

function walk(
  schema: ConfigSchema,
  node: Node | null,
  prefix: string,
  values: Map<string, unknown>,
  issues: ConfigIssue[],
  at: (offset: number | undefined) => string,
): void {
  const section = prefix === '' ? 'the top level' : prefix.slice(0, -1);
  if (node === null || (isScalar(node) && node.value === null)) return;
  if (!isMap(node)) {
    issues.push({ key: section === 'the top level' ? '' : section, problem: `expected a map of keys`, source: at(node.range?.[0]) });
    return;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const path = prefix + name;
    const entry = Object.hasOwn(schema, name) ? schema[name] : undefined;
    const valueNode = pair.value as Node | null;
    if (entry === undefined) {
      const known = Object.keys(schema)
        .map((k) => prefix + k)
        .join(', ');
      issues.push({ key: path, problem: `unknown key (known keys in ${section}: ${known})`, source: at(keyNode?.range?.[0]) });
      continue;
    }
    if (entry instanceof ConfigKey) {
      const raw: unknown = valueNode === null ? null : isScalar(valueNode) ? valueNode.value : isSeq(valueNode) || isMap(valueNode) ? valueNode.toJSON() : null;
      const parsed = entry.fromFile(raw);
      const where = at(valueNode?.range?.[0] ?? keyNode?.range?.[0]);
      if (parsed.ok) values.set(path, parsed.value);
      else issues.push(badValue(path, parsed.expected, raw, where));
    } else {
      walk(entry, valueNode, `${path}.`, values, issues, at);
    }
  }
}

function applyOverrides(schema: ConfigSchema, overrides: Record<string, unknown>, prefix: string, values: Map<string, unknown>, issues: ConfigIssue[]): void {
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const path = prefix + name;
    const entry = Object.hasOwn(schema, name) ? schema[name] : undefined;
    if (entry === undefined) {
      issues.push({ key: path, problem: 'unknown key', source: 'overrides' });
    } else if (entry instanceof ConfigKey) {
      // Overrides are typed values already; run them through the file parser
      // for range checks, except durations, which are given in milliseconds.
      const parsed =
        entry.type === 'duration' ? (typeof value === 'number' && value >= 0 ? { ok: true as const, value } : entry.fromFile(value)) : entry.fromFile(value);
      if (parsed.ok) values.set(path, parsed.value);
      else issues.push(badValue(path, parsed.expected, value, 'overrides'));
    } else if (typeof value === 'object' && value !== null) {
      applyOverrides(entry, value as Record<string, unknown>, `${path}.`, values, issues);
    } else {
      issues.push(badValue(path, 'a map of keys', value, 'overrides'));
    }
  }
}
