import { fromBinary } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { PoolClient } from 'pg';
import { isKindInProject, kindInfo } from './kinds';
import type { RegistryObject } from './kinds';
import { emptyProject, objectsOf } from './project-objects';
import type { ProjectObjects } from './project-objects';

const PROJECT = registryV1.ObjectKind.PROJECT;

/** A row of the objects table: one registry object as protobuf bytes. */
export interface ObjectRow {
  project: string;
  kind: number;
  name: string;
  data: Buffer;
}

/** Creates the registry's schema and tables when missing; run inside a transaction. */
export async function migrateTables(db: PoolClient, schema: string): Promise<void> {
  const t = (table: string): string => `"${schema}".${table}`;
  // Two instances starting at once would race on CREATE ... IF NOT EXISTS.
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`larder-registry-migrate:${schema}`]);
  await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${t('meta')} (
    id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, updated_time timestamptz)`);
  await db.query(`INSERT INTO ${t('meta')} (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${t('objects')} (
    project text NOT NULL, kind int NOT NULL, name text NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (project, kind, name))`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${t('changes')} (
    version bigint PRIMARY KEY, committed_at timestamptz NOT NULL, data bytea NOT NULL)`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${t('materialization')} (
    project text NOT NULL, feature_view text NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (project, feature_view))`);
}

/** The project held by `rows` (one project's objects), or undefined when its project row is absent. */
export function projectFromRows(rows: readonly ObjectRow[]): ProjectObjects | undefined {
  const projectRow = rows.find((r) => r.kind === PROJECT);
  if (projectRow === undefined) return undefined;
  const p = emptyProject(fromBinary(registryV1.ProjectSchema, projectRow.data));
  for (const row of rows) {
    if (!isKindInProject(row.kind)) continue;
    objectsOf(p, row.kind).set(row.name, fromBinary(kindInfo(row.kind).schema, row.data) as RegistryObject);
  }
  return p;
}
