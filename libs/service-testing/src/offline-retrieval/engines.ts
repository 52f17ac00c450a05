// Puts test tables where each engine reads them, and says how to configure the service for it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { DuckDBDataChunk, DuckDBInstance, JSToDuckDBValueConverter } from '@duckdb/node-api';
import { bigqueryField, postgresType } from '@larder/offline-store';
import { registryV1, typesV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import pg from 'pg';
import type { SourceKind, Table } from './dataset';

export interface TestEngine {
  name: 'duckdb' | 'postgres' | 'bigquery';
  /** Service configuration (environment) for this engine. */
  env: Record<string, string>;
  /** Stores the table; returns the DataSource kind (and the entity-source location) for it. */
  load(table: Table): Promise<SourceKind>;
  /** A place for the service to write a dataset to. */
  destination(name: string): registryV1.DatasetStorage;
  /** Reads a written destination back (row objects, any order). */
  readBack(storage: registryV1.DatasetStorage): Promise<Record<string, unknown>[]>;
  dir: string;
  cleanup(): Promise<void>;
}

const DUCK_TYPES: Partial<Record<typesV1.ValueType, string>> = {
  [typesV1.ValueType.INT64]: 'BIGINT',
  [typesV1.ValueType.INT32]: 'INTEGER',
  [typesV1.ValueType.STRING]: 'VARCHAR',
  [typesV1.ValueType.DOUBLE]: 'DOUBLE',
  [typesV1.ValueType.BOOL]: 'BOOLEAN',
  [typesV1.ValueType.UNIX_TIMESTAMP]: 'TIMESTAMP',
};

/**
 * `zoned` writes timestamp columns as TIMESTAMPTZ, as pandas and Feast write Parquet: under a
 * non-UTC TZ (the test command runs this suite under two), a session that follows the
 * process's zone would compare them with entity times in another frame.
 */
export async function duckdbTestEngine(zoned = false): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'larder-offline-retrieval-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const duckType = (type: typesV1.ValueType): string | undefined => (zoned && type === typesV1.ValueType.UNIX_TIMESTAMP ? 'TIMESTAMPTZ' : DUCK_TYPES[type]);
  let n = 0;
  return {
    name: 'duckdb',
    dir,
    // The service may read and write only this engine's folder, as a deployment would configure it.
    env: { LARDER_OFFLINE_STORE_TYPE: 'duckdb', LARDER_OFFLINE_READ_ROOTS: dir, LARDER_OFFLINE_WRITE_ROOT: dir },
    async load(spec) {
      const table = `t${++n}`;
      await connection.run(`CREATE TABLE ${table} (${spec.columns.map((c) => `"${c.name}" ${duckType(c.type)}`).join(', ')})`);
      const appender = await connection.createAppender(table);
      const types = spec.columns.map((_, i) => appender.columnType(i));
      const chunk = DuckDBDataChunk.create(types, spec.rows.length);
      chunk.setColumnsConverted(spec.columns.map((c) => spec.rows.map((r) => r[c.name] ?? null)) as never, JSToDuckDBValueConverter);
      appender.appendDataChunk(chunk);
      appender.closeSync();
      const path = join(dir, `${spec.name}.parquet`);
      await connection.run(`COPY ${table} TO '${path}' (FORMAT parquet)`);
      return { case: 'file', value: { path, format: registryV1.FileFormat.PARQUET } } as SourceKind;
    },
    destination: (name) =>
      ({ kind: { case: 'file', value: { path: join(dir, `${name}.parquet`), format: registryV1.FileFormat.PARQUET } } }) as registryV1.DatasetStorage,
    async readBack(storage) {
      const path = (storage.kind.value as registryV1.FileSource).path;
      return (await connection.runAndReadAll(`SELECT * FROM read_parquet('${path}')`)).getRowObjectsJS() as Record<string, unknown>[];
    },
    async cleanup() {
      connection.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresTestEngine(): Promise<TestEngine> {
  const url = testServices().postgres.url;
  const suffix = `${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  const created: string[] = [];
  return {
    name: 'postgres',
    dir: '',
    env: { LARDER_OFFLINE_STORE_TYPE: 'postgres', LARDER_POSTGRES_URL: url },
    async load(spec) {
      const table = `${spec.name}_${suffix}`;
      created.push(table);
      await client.query(
        `CREATE TABLE "${table}" (${spec.columns.map((c) => `"${c.name}" ${c.type === typesV1.ValueType.UNIX_TIMESTAMP ? 'timestamptz' : postgresType(c.type)}`).join(', ')})`,
      );
      for (let start = 0; start < spec.rows.length; start += 400) {
        const values: unknown[] = [];
        const tuples = spec.rows.slice(start, start + 400).map((row) => {
          const first = values.length;
          for (const c of spec.columns) {
            const cell = row[c.name] ?? null;
            values.push(cell instanceof Date ? cell.toISOString() : typeof cell === 'bigint' ? cell.toString() : cell);
          }
          return `(${spec.columns.map((_, i) => `$${first + i + 1}`).join(', ')})`;
        });
        await client.query(`INSERT INTO "${table}" VALUES ${tuples.join(', ')}`, values);
      }
      return { case: 'postgres', value: { location: { case: 'table', value: table } } } as SourceKind;
    },
    destination(name) {
      const table = `${name}_${suffix}`;
      created.push(table);
      return { kind: { case: 'postgresTable', value: table } } as registryV1.DatasetStorage;
    },
    async readBack(storage) {
      return (await client.query(`SELECT * FROM "${storage.kind.value as string}"`)).rows as Record<string, unknown>[];
    },
    async cleanup() {
      for (const table of created) await client.query(`DROP TABLE IF EXISTS "${table}"`);
      await client.end();
    },
  };
}

export async function bigqueryTestEngine(): Promise<TestEngine> {
  const { endpoint, projectId } = testServices().bigquery;
  const bigquery = new BigQuery({ apiEndpoint: endpoint, projectId });
  const datasetId = `larder_retrieval_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await bigquery.createDataset(datasetId);
  return {
    name: 'bigquery',
    dir: '',
    env: {
      LARDER_OFFLINE_STORE_TYPE: 'bigquery',
      LARDER_BIGQUERY_PROJECT: projectId,
      LARDER_BIGQUERY_API_ENDPOINT: endpoint,
      LARDER_BIGQUERY_DATASET: datasetId,
    },
    async load(spec) {
      const [table] = await bigquery.dataset(datasetId).createTable(spec.name, { schema: { fields: spec.columns.map((c) => bigqueryField(c.name, c.type)) } });
      const rows = spec.rows.map((row) =>
        Object.fromEntries(
          spec.columns.map((c) => {
            const cell = row[c.name] ?? null;
            return [c.name, cell instanceof Date ? cell.toISOString() : typeof cell === 'bigint' ? cell.toString() : cell];
          }),
        ),
      );
      for (let start = 0; start < rows.length; start += 1000) await table.insert(rows.slice(start, start + 1000));
      return { case: 'bigquery', value: { location: { case: 'table', value: `${projectId}.${datasetId}.${spec.name}` } } } as SourceKind;
    },
    destination: (name) => ({ kind: { case: 'bigqueryTable', value: `${projectId}.${datasetId}.${name}` } }) as registryV1.DatasetStorage,
    async readBack(storage) {
      const [rows] = await bigquery.query({ query: `SELECT * FROM \`${storage.kind.value as string}\`` });
      return rows as Record<string, unknown>[];
    },
    async cleanup() {
      await bigquery
        .dataset(datasetId)
        .delete({ force: true })
        .catch(() => undefined);
    },
  };
}
