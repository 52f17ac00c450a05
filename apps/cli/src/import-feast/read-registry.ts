// Reads a Feast 0.67 registry without Python: the `registry.db` file (one serialized
// feast.core.Registry) or Feast's SQL registry (one table per object kind, each row
// holding the object's message), on SQLite or PostgreSQL. Read-only, parameterised.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { create, fromBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { feastCore } from '@larder/proto';

/** The registry cannot be read; the message names the file (or table) and the object. */
export class FeastRegistryError extends Error {
  override readonly name = 'FeastRegistryError';
}

export interface FeastRegistry {
  registry: feastCore.Registry;
  /** Where it came from, for messages: a file path, or a SQL registry with its table names. */
  origin: string;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Largest registry.db read; Feast's own for hundreds of views is a few MiB. */
const MAX_REGISTRY_BYTES = 256 * 1024 * 1024;

/** A registry location: a registry.db path, a SQLite file, `sqlite:///path`, or `postgresql://…`. */
export async function readFeastRegistry(location: string, cwd: string): Promise<FeastRegistry> {
  if (/^postgres(ql)?(\+\w+)?:\/\//.test(location)) return readPostgres(location);
  if (/^[a-z][\w+.-]*:\/\//i.test(location) && !location.startsWith('sqlite:')) {
    throw new FeastRegistryError(
      `${location}: only a local registry.db, a SQLite SQL registry (sqlite:///path) or a PostgreSQL one (postgresql://…) can be read; copy a remote registry.db (gs://, s3://) here first`,
    );
  }
  const file = path.resolve(cwd, location.replace(/^sqlite:\/\/\//, '/').replace(/^sqlite:\/\//, ''));
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile())
      throw new FeastRegistryError(`${file}: not a file; give the registry.db that feast apply wrote (feature_store.yaml's registry), or a SQL registry`);
    if (info.size > MAX_REGISTRY_BYTES)
      throw new FeastRegistryError(`${file}: ${info.size} bytes is more than a Feast registry holds (limit ${MAX_REGISTRY_BYTES})`);
    bytes = await readFile(file);
  } catch (error) {
    if (error instanceof FeastRegistryError) throw error;
    throw new FeastRegistryError(`${file}: cannot read the Feast registry: ${(error as Error).message}`);
  }
  if (bytes.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER)) return readSqlite(file);
  return { registry: decodeRegistryFile(bytes, file), origin: file };
}

/** registry.db: one feast.core.Registry. */
export function decodeRegistryFile(bytes: Uint8Array, file: string): feastCore.Registry {
  if (bytes.length === 0) throw new FeastRegistryError(`${file}: empty file; feast apply writes the registry there, run it first`);
  let registry: feastCore.Registry;
  try {
    registry = fromBinary(feastCore.RegistrySchema, bytes);
  } catch (error) {
    throw new FeastRegistryError(`${file}: not a Feast registry (a serialized feast.core.Registry): ${(error as Error).message}`);
  }
  // Feast always writes the schema version; bytes that happen to parse as protobuf do not carry it.
  if (registry.registrySchemaVersion === '') {
    throw new FeastRegistryError(
      `${file}: not a Feast registry: it parses as protobuf but has no registry_schema_version (field 3), which feast apply always writes`,
    );
  }
  return registry;
}

/** One table of Feast's SQL registry: its name, the column with the message, and where it goes. */
const TABLES = [
  ['projects', 'project_proto', 'projects', feastCore.ProjectSchema],
  ['entities', 'entity_proto', 'entities', feastCore.EntitySchema],
  ['data_sources', 'data_source_proto', 'dataSources', feastCore.DataSourceSchema],
  ['feature_views', 'feature_view_proto', 'featureViews', feastCore.FeatureViewSchema],
  ['stream_feature_views', 'feature_view_proto', 'streamFeatureViews', feastCore.StreamFeatureViewSchema],
  ['on_demand_feature_views', 'feature_view_proto', 'onDemandFeatureViews', feastCore.OnDemandFeatureViewSchema],
  ['feature_services', 'feature_service_proto', 'featureServices', feastCore.FeatureServiceSchema],
] as const;

interface Row {
  project_id: string;
  name: string;
  proto: Uint8Array;
}

/** Builds a Registry from the SQL tables; `query` runs a fixed statement (no input in its text). */
async function fromTables(origin: string, query: (table: string, column: string, nameColumn: string) => Promise<Row[] | undefined>): Promise<FeastRegistry> {
  const registry = create(feastCore.RegistrySchema, { registrySchemaVersion: 'sql' });
  let tables = 0;
  for (const [table, column, field, schema] of TABLES) {
    const nameColumn = table === 'projects' ? 'project_name' : `${column.replace(/_proto$/, '')}_name`;
    const rows = await query(table, column, nameColumn);
    if (rows === undefined) continue;
    tables++;
    for (const row of rows) {
      const decoded = decodeRow(schema, row, `${origin} table ${table}`);
      (registry[field] as unknown[]).push(decoded);
    }
  }
  if (tables === 0) throw new FeastRegistryError(`${origin}: not a Feast SQL registry: none of its tables (${TABLES.map((t) => t[0]).join(', ')}) is there`);
  for (const project of registry.projects) registry.projectMetadata.push(create(feastCore.ProjectMetadataSchema, { project: project.spec?.name ?? '' }));
  return { registry, origin };
}

function decodeRow<S extends DescMessage>(schema: S, row: Row, where: string): MessageShape<S> {
  try {
    return fromBinary(schema, row.proto);
  } catch (error) {
    throw new FeastRegistryError(`${where}, row '${row.name}' of project '${row.project_id}': not a ${schema.typeName}: ${(error as Error).message}`);
  }
}

async function readSqlite(file: string): Promise<FeastRegistry> {
  const { default: Database } = await import('better-sqlite3');
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new FeastRegistryError(`${file}: cannot open the SQL registry: ${(error as Error).message}`);
  }
  try {
    const present = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    return await fromTables(`SQL registry ${file}`, async (table, column, nameColumn) => {
      if (!present.has(table)) return undefined;
      // Table and column names come from TABLES above, never from input.
      const rows = db.prepare(`SELECT project_id, ${nameColumn} AS name, ${column} AS proto FROM ${table} ORDER BY project_id, ${nameColumn}`).all() as Row[];
      return rows.map((r) => ({ ...r, proto: toBytes(r.proto, `SQL registry ${file} table ${table}`, r) }));
    });
  } finally {
    db.close();
  }
}

async function readPostgres(url: string): Promise<FeastRegistry> {
  const { default: pg } = await import('pg');
  // SQLAlchemy's driver suffix (postgresql+psycopg://) means nothing to pg.
  const connectionString = url.replace(/^postgres(ql)?\+\w+:/, 'postgresql:');
  const shown = connectionString.replace(/\/\/[^@/]*@/, '//…@');
  const client = new pg.Client({ connectionString, statement_timeout: 60_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new FeastRegistryError(`${shown}: cannot connect to the SQL registry: ${(error as Error).message}`);
  }
  try {
    // Reads only: the session cannot write even if a statement here were wrong.
    await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    const present = new Set(
      (await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()')).rows.map(
        (r) => r.table_name,
      ),
    );
    return await fromTables(`SQL registry ${shown}`, async (table, column, nameColumn) => {
      if (!present.has(table)) return undefined;
      const result = await client.query<Row>(`SELECT project_id, ${nameColumn} AS name, ${column} AS proto FROM ${table} ORDER BY project_id, ${nameColumn}`);
      return result.rows.map((r) => ({ ...r, proto: toBytes(r.proto, `SQL registry ${shown} table ${table}`, r) }));
    });
  } finally {
    await client.end();
  }
}

function toBytes(value: unknown, where: string, row: { project_id: string; name: string }): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new FeastRegistryError(
    `${where}, row '${row.name}' of project '${row.project_id}': the message column holds ${value === null ? 'NULL' : typeof value}, not bytes`,
  );
}
