// Puts generated tables where each engine reads them, for the tests.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api';
import { typesV1 } from '@larder/proto';
import pg from 'pg';
import { BigQueryOfflineStore, bigqueryField } from '../bigquery-store';
import { PostgresOfflineStore, postgresType } from '../postgres-store';
import { duckdbType } from '../duckdb-types';
import { toDuckDB } from '../duckdb-columns';
import { isoMicros } from '../micro-date';
import { DuckDBOfflineStore } from '../duckdb-store';
import type { BatchSource, OfflineStore, SourceLocation } from '../types';
import type { TableSpec, ViewSpec } from './dataset';

export interface EngineUnderTest {
  name: 'duckdb' | 'postgres' | 'bigquery';
  store: OfflineStore;
  /**
   * Stores the table and returns where the engine reads it. `shape` varies the file layout on DuckDB;
   * `zoned` stores timestamps as instants (DuckDB TIMESTAMPTZ, PostgreSQL timestamptz; BigQuery's
   * TIMESTAMP always is one) rather than as UTC wall-clock time.
   */
  load(spec: TableSpec, shape?: 'parquet' | 'csv' | 'folder', zoned?: boolean): Promise<SourceLocation>;
  /** A fresh table name for an output, dropped by cleanup. */
  scratchTable(name: string): string;
  cleanup(): Promise<void>;
}

export function viewBatchSource(view: ViewSpec, location: SourceLocation): BatchSource {
  return {
    name: view.table.name,
    location,
    timestampField: view.timestampField,
    ...(view.createdTimestampColumn ? { createdTimestampColumn: view.createdTimestampColumn } : {}),
    ...(view.fieldMapping ? { fieldMapping: view.fieldMapping } : {}),
  };
}

export async function duckdbEngine(): Promise<EngineUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'larder-offline-'));
  const store = await DuckDBOfflineStore.create();
  const writer = await DuckDBInstance.create(':memory:');
  const connection = await writer.connect();
  let n = 0;
  return {
    name: 'duckdb',
    store,
    async load(spec, shape = 'parquet', zoned = false) {
      const table = `t${++n}`;
      const type = (t: typesV1.ValueType): string => (zoned && t === typesV1.ValueType.UNIX_TIMESTAMP ? 'TIMESTAMPTZ' : duckdbType(t));
      await connection.run(`CREATE TABLE ${table} (${spec.columns.map((c) => `"${c.name}" ${type(c.type)}`).join(', ')})`);
      const appender = await connection.createAppender(table);
      const types = spec.columns.map((_, i) => appender.columnType(i));
      for (let start = 0; start < spec.rows.length; start += 2048) {
        const rows = spec.rows.slice(start, start + 2048);
        const chunk = DuckDBDataChunk.create(types, rows.length);
        chunk.setColumnsConverted(
          spec.columns.map((c) => rows.map((r) => r[c.name] ?? null)),
          toDuckDB,
        );
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      const base = join(dir, `${spec.name}-${n}`);
      if (shape === 'csv') {
        await connection.run(`COPY ${table} TO '${base}.csv' (FORMAT csv, HEADER true)`);
        return { kind: 'file', path: `${base}.csv` };
      }
      if (shape === 'folder') {
        mkdirSync(base);
        const half = Math.floor(spec.rows.length / 2);
        await connection.run(`COPY (SELECT * FROM ${table} LIMIT ${half}) TO '${base}/part-0.parquet' (FORMAT parquet)`);
        await connection.run(`COPY (SELECT * FROM ${table} OFFSET ${half}) TO '${base}/part-1.parquet' (FORMAT parquet)`);
        return { kind: 'file', path: `${base}/*.parquet` };
      }
      await connection.run(`COPY ${table} TO '${base}.parquet' (FORMAT parquet)`);
      return { kind: 'file', path: `${base}.parquet` };
    },
    scratchTable: (name) => `${name}_${++n}`,
    async cleanup() {
      connection.closeSync();
      writer.closeSync();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresEngine(url: string): Promise<EngineUnderTest> {
  const suffix = `${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const store = new PostgresOfflineStore({ connectionString: url, max: 4 });
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  const created: string[] = [];
  let n = 0;
  return {
    name: 'postgres',
    store,
    async load(spec, _shape, zoned = false) {
      const table = `${spec.name}_${suffix}_${++n}`;
      created.push(table);
      // Source timestamps as `timestamp` (no zone) unless zoned, the common case in warehouses.
      const ddl = spec.columns.map(
        (c) => `"${c.name}" ${c.type === typesV1.ValueType.UNIX_TIMESTAMP ? (zoned ? 'timestamptz' : 'timestamp') : postgresType(c.type)}`,
      );
      await client.query(`CREATE TABLE "${table}" (${ddl.join(', ')})`);
      for (let start = 0; start < spec.rows.length; start += 500) {
        const rows = spec.rows.slice(start, start + 500);
        const values: unknown[] = [];
        const tuples = rows.map((row) => {
          const first = values.length;
          for (const c of spec.columns) {
            const cell = row[c.name] ?? null;
            values.push(cell instanceof Date ? isoMicros(cell).replace('T', ' ').replace('Z', '') : typeof cell === 'bigint' ? cell.toString() : cell);
          }
          return `(${spec.columns.map((_, i) => `$${first + i + 1}`).join(', ')})`;
        });
        await client.query(`INSERT INTO "${table}" VALUES ${tuples.join(', ')}`, values);
      }
      return { kind: 'table', table };
    },
    scratchTable(name) {
      const table = `${name}_${suffix}_${++n}`;
      created.push(table);
      return table;
    },
    async cleanup() {
      for (const table of created) await client.query(`DROP TABLE IF EXISTS "${table}"`);
      await client.end();
      await store.close();
    },
  };
}

export async function bigqueryEngine(endpoint: string, projectId: string): Promise<EngineUnderTest> {
  const bigquery = new BigQuery({ apiEndpoint: endpoint, projectId });
  const datasetId = `larder_offline_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await bigquery.createDataset(datasetId);
  const store = new BigQueryOfflineStore({ bigquery, scratchDataset: datasetId });
  let n = 0;
  return {
    name: 'bigquery',
    store,
    async load(spec) {
      const id = `${spec.name}_${++n}`;
      const [table] = await bigquery.dataset(datasetId).createTable(id, { schema: { fields: spec.columns.map((c) => bigqueryField(c.name, c.type)) } });
      const rows = spec.rows.map((row) =>
        Object.fromEntries(
          spec.columns.map((c) => {
            const cell = row[c.name] ?? null;
            return [c.name, cell instanceof Date ? isoMicros(cell) : typeof cell === 'bigint' ? cell.toString() : cell];
          }),
        ),
      );
      for (let start = 0; start < rows.length; start += 1000) await table.insert(rows.slice(start, start + 1000));
      return { kind: 'table', table: `${projectId}.${datasetId}.${id}` };
    },
    scratchTable: (name) => `${projectId}.${datasetId}.${name}_${++n}`,
    async cleanup() {
      await bigquery
        .dataset(datasetId)
        .delete({ force: true })
        .catch(() => undefined);
    },
  };
}
