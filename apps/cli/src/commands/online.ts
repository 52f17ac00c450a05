// `larder get-online-features`: the latest feature values for a few entity rows, read
// from the online-serving service exactly as a model server would read them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { parseJsonLossless } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { feastJson, servingV1, typesV1 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { openRegistry, registryTarget, repoConfig } from '../context';
import { clientSecurity } from '../security';
import { formatJson, formatTable } from '../output';

const NAME = 'get-online-features';
/** The service's default port (apps/online-serving). */
const DEFAULT_ADDRESS = '127.0.0.1:6566';
const TIMEOUT_MS = 30_000;

const T = typesV1.ValueType;
const S = typesV1.FieldStatus;
type Value = typesV1.Value;
// bigint: an integer beyond 2^53 from a JSON file, kept exact (parseJsonLossless).
type Raw = string | number | bigint | boolean | null;

/** Entity (and request) columns as given: name -> one raw value per row. */
export type RawColumns = Record<string, Raw[]>;

/** `--entity driver_id=1001,1002`, repeatable: one column per flag. */
export function parseEntityFlags(flags: readonly string[]): RawColumns {
  const columns: RawColumns = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0 || eq === flag.length - 1) throw new UsageError(`--entity expects join_key=value[,value…], got "${flag}"`, NAME);
    const name = flag.slice(0, eq);
    if (columns[name] !== undefined) throw new UsageError(`--entity ${name} is given twice; list every value of a column in one flag`, NAME);
    columns[name] = flag
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim());
  }
  return columns;
}

/**
 * A JSON file of entity rows: Feast's columns (`{"driver_id": [1001, 1002]}`) or a
 * list of rows (`[{"driver_id": 1001}, …]`).
 */
export function parseEntityJson(text: string, file: string): RawColumns {
  let json: unknown;
  try {
    json = parseJsonLossless(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`, NAME);
  }
  const scalar = (where: string, v: unknown): Raw => {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
    throw new UsageError(`${file}: ${where} must be a string, number, boolean or null`, NAME);
  };
  if (Array.isArray(json)) {
    const names = new Set(json.flatMap((row) => (row !== null && typeof row === 'object' && !Array.isArray(row) ? Object.keys(row) : [])));
    const columns: RawColumns = {};
    for (const name of names) columns[name] = [];
    json.forEach((row: unknown, i) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new UsageError(`${file}: row ${i} must be an object of join key -> value`, NAME);
      const record = row as Record<string, unknown>;
      for (const name of names) {
        if (!(name in record)) throw new UsageError(`${file}: row ${i} has no "${name}"; every row needs the same keys`, NAME);
        columns[name]!.push(scalar(`row ${i} "${name}"`, record[name]));
      }
    });
    return columns;
  }
  if (json === null || typeof json !== 'object') throw new UsageError(`${file}: expected {"join_key": [values…]} or [{"join_key": value}, …]`, NAME);
  const columns: RawColumns = {};
  for (const [name, values] of Object.entries(json as Record<string, unknown>)) {
    if (!Array.isArray(values)) throw new UsageError(`${file}: "${name}" must be a list with one value per entity row`, NAME);
    columns[name] = values.map((v, i) => scalar(`"${name}"[${i}]`, v));
  }
  return columns;
}

/** Column name -> declared type: the entities' join keys and the request sources' fields. */
export function declaredTypes(sets: readonly RegistrySet[]): Map<string, typesV1.ValueType> {
  const types = new Map<string, typesV1.ValueType>();
  for (const set of sets) {
    for (const entity of set.entities) types.set(entity.joinKey, entity.valueType);
    for (const source of set.dataSources) {
      if (source.kind.case === 'request') for (const field of source.kind.value.schema) types.set(field.name, field.valueType);
    }
  }
  return types;
}

const INTEGER = /^-?\d+$/;

/**
 * One raw value as a Value of the column's declared type; without one, an integer
 * is an int64 (the usual join key), other numbers doubles, the rest strings.
 */
export function parseInputValue(raw: Raw, type: typesV1.ValueType | undefined, where: string): Value {
  const make = (val: Value['val']): Value => create(typesV1.ValueSchema, { val });
  if (raw === null || raw === 'null') return make({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED });
  const fail = (expected: string): never => {
    throw new UsageError(`${where}: expected ${expected}, got ${typeof raw === 'bigint' ? String(raw) : JSON.stringify(raw)}`, NAME);
  };
  const integer = (): bigint =>
    typeof raw === 'bigint'
      ? raw
      : (typeof raw === 'number' && Number.isSafeInteger(raw)) || (typeof raw === 'string' && INTEGER.test(raw))
        ? BigInt(raw)
        : fail('an integer');
  const number = (): number => {
    const n = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    return Number.isNaN(n) ? fail('a number') : n;
  };
  switch (type) {
    case undefined:
      if (typeof raw === 'boolean') return make({ case: 'boolVal', value: raw });
      if (typeof raw === 'bigint' || (typeof raw === 'number' && Number.isInteger(raw)) || (typeof raw === 'string' && INTEGER.test(raw)))
        return make({ case: 'int64Val', value: BigInt(raw) });
      if (typeof raw === 'number') return make({ case: 'doubleVal', value: raw });
      return make({ case: 'stringVal', value: raw });
    case T.INT64:
      return make({ case: 'int64Val', value: integer() });
    case T.UNIX_TIMESTAMP:
      return make({ case: 'unixTimestampVal', value: integer() });
    case T.INT32: {
      const v = integer();
      return v < -(2n ** 31n) || v >= 2n ** 31n ? fail('a 32-bit integer') : make({ case: 'int32Val', value: Number(v) });
    }
    case T.DOUBLE:
      return make({ case: 'doubleVal', value: number() });
    case T.FLOAT:
      return make({ case: 'floatVal', value: number() });
    case T.STRING:
      return make({ case: 'stringVal', value: String(raw) });
    case T.BOOL:
      if (typeof raw === 'boolean') return make({ case: 'boolVal', value: raw });
      return raw === 'true' || raw === 'false' ? make({ case: 'boolVal', value: raw === 'true' }) : fail('true or false');
    case T.BYTES:
      return make({ case: 'bytesVal', value: Buffer.from(String(raw), 'utf8') });
    default:
      return fail(`a scalar (the column's type, ${T[type] ?? type}, cannot be given on the command line)`);
  }
}

function cell(value: Value | undefined, status: typesV1.FieldStatus | undefined): string {
  if (status === S.NOT_FOUND) return '(not found)';
  const json = value === undefined ? null : feastJson.valueToJson(value);
  const text = json === null ? 'null' : typeof json === 'string' ? json : JSON.stringify(json);
  return status === S.OUTSIDE_MAX_AGE ? `${text} (outside max age)` : text;
}

/** One line per entity row, one column per output name (join keys first, as the service sends them). */
export function responseToTable(response: servingV1.GetOnlineFeaturesResponse): string {
  const names = response.metadata?.featureNames?.val ?? [];
  const rows = Math.max(0, ...response.results.map((r) => r.values.length));
  const lines = Array.from({ length: rows }, (_, i) => response.results.map((r) => cell(r.values[i], r.statuses[i])));
  return formatTable(names, lines);
}

/** Declared column types from the registry, when the user has one configured; the read itself never depends on it. */
async function registryTypes(ctx: CommandContext, project: string, hasRepo: boolean): Promise<Map<string, typesV1.ValueType>> {
  if (!hasRepo && ctx.flags.registry === undefined && !ctx.io.env['LARDER_REGISTRY']) return new Map();
  try {
    const backend = await openRegistry(ctx, await registryTarget(ctx));
    try {
      return declaredTypes((await backend.registrySets(project)).sets);
    } finally {
      await backend.close();
    }
  } catch {
    // Values then take their natural type, and the service names any mismatch.
    return new Map();
  }
}

export async function getOnlineFeatures(ctx: CommandContext): Promise<number> {
  const flag = (name: string): string | undefined => ctx.flags[name] as string | undefined;
  const refs = flag('features');
  const service = flag('feature-service');
  if ((refs === undefined) === (service === undefined)) throw new UsageError('give exactly one of --features view:feature,… and --feature-service NAME', NAME);
  const features =
    refs
      ?.split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '') ?? [];
  if (refs !== undefined && features.length === 0) throw new UsageError('--features needs at least one view:feature ref', NAME);

  const entityFlags = (ctx.flags as Record<string, unknown>)['entity'] as string[] | undefined;
  const file = flag('entities');
  if ((entityFlags === undefined) === (file === undefined))
    throw new UsageError('give the entity rows with --entity join_key=value[,value…] (repeatable) or --entities FILE.json', NAME);
  let raw: RawColumns;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(path.resolve(ctx.io.cwd, file), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --entities ${file}: ${error instanceof Error ? error.message : String(error)}`, NAME);
    }
    raw = parseEntityJson(text, file);
  } else raw = parseEntityFlags(entityFlags ?? []);

  const repo = await repoConfig(ctx);
  const project = ctx.flags.project ?? repo?.project ?? '';
  const address = flag('address') ?? (ctx.io.env['LARDER_ONLINE_SERVING'] || undefined) ?? repo?.services.online_serving ?? DEFAULT_ADDRESS;
  const types = await registryTypes(ctx, project, repo !== undefined);
  const entities: Record<string, typesV1.RepeatedValue> = {};
  for (const [name, values] of Object.entries(raw)) {
    entities[name] = create(typesV1.RepeatedValueSchema, { val: values.map((v, i) => parseInputValue(v, types.get(name), `${name}[${i}]`)) });
  }
  const request = create(servingV1.GetOnlineFeaturesRequestSchema, {
    project,
    kind: service !== undefined ? { case: 'featureService', value: service } : { case: 'features', value: { val: features } },
    entities,
    fullFeatureNames: (ctx.flags as Record<string, unknown>)['full-feature-names'] === true,
  });

  const client = createClient(servingV1.OnlineServingService, address, { ...(await clientSecurity(ctx)), defaultTimeoutMs: TIMEOUT_MS });
  try {
    const response = await client.getOnlineFeatures(request);
    ctx.io.out(ctx.flags.output === 'json' ? formatJson(feastJson.onlineResponseToJson(response)) : responseToTable(response));
    return 0;
  } catch (error) {
    if (error instanceof RpcError && error.code === Code.UNAVAILABLE) {
      // Either nothing answers at the address, or the service is up and its online store is not.
      if (/No connection established|ECONNREFUSED|ENOTFOUND|Name resolution failed/i.test(error.message)) {
        throw new Error(
          `the online-serving service at ${address} is unavailable ` +
            `(${error.message.replace(/[.\s]*Resolution note:\s*$/, '')}); start it (npm start), or point --address (or ` +
            `larder.yaml services.online_serving) at one`,
        );
      }
      throw new Error(`UNAVAILABLE: the online-serving service at ${address} answered: ${error.message}`);
    }
    throw error;
  } finally {
    client.close();
  }
}
