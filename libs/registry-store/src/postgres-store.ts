import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, timestampNow } from '@bufbuild/protobuf/wkt';
import { matchesFilter } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { Pool } from 'pg';
import type { PoolClient } from 'pg';
import { planApply, planDelete, planDeleteProject, snapshotOf } from './apply-plan';
import type { Commit, Plan } from './apply-plan';
import { concurrentChange, notFound, versionMismatch } from './errors';
import { kindInfo } from './kinds';
import type { ObjectKindInProject, ObjectOf } from './kinds';
import { checkMaterializationUpdate, mergeMaterializationState } from './materialization';
import { PostgresChangeStream } from './postgres-notify';
import { migrateTables, projectFromRows } from './postgres-tables';
import type { ObjectRow } from './postgres-tables';
import { toRegistrySet } from './project-objects';
import type { ProjectObjects } from './project-objects';
import { filterObjects, findObject, sortByName, statesFor } from './queries';
import type { ChangeListener, RegistryStore, VersionInfo, Versioned } from './registry-store';

const PROJECT = registryV1.ObjectKind.PROJECT;

export interface PostgresRegistryStoreOptions {
  /** The schema holding the registry's tables; `larder_registry` by default. */
  schema?: string;
  /** Committed versions kept for replay to watchers. */
  keepVersions?: number;
  poolSize?: number;
}

/**
 * The shared registry: objects as protobuf bytes in PostgreSQL. Writes are
 * optimistic: a transaction reads the version, plans, and commits only if
 * the version is still the one it read (a conditional UPDATE on the single
 * version row, which also serialises committers); otherwise ABORTED and
 * nothing is written. Each commit stores its changes and NOTIFYs, so every
 * instance (every registry replica) pushes them to its subscribers in order
 * (PostgresChangeStream, postgres-notify.ts).
 */
export class PostgresRegistryStore implements RegistryStore {
  readonly location: string;
  private readonly pool: Pool;
  private readonly schema: string;
  private readonly channel: string;
  private readonly keepVersions: number;
  private readonly changes: PostgresChangeStream;
  private closed = false;

  private constructor(
    private readonly url: string,
    options: PostgresRegistryStoreOptions,
  ) {
    const schema = options.schema ?? 'larder_registry';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`registry schema "${schema}": use lowercase letters, digits and _`);
    this.schema = schema;
    this.channel = `${schema}_changes`;
    this.keepVersions = options.keepVersions ?? 1000;
    this.location = `${redact(url)} (schema ${schema})`;
    this.pool = new Pool({ connectionString: url, max: options.poolSize ?? 5 });
    this.pool.on('error', () => undefined);
    this.changes = new PostgresChangeStream(url, this.channel, this);
  }

  static async open(url: string, options: PostgresRegistryStoreOptions = {}): Promise<PostgresRegistryStore> {
    const store = new PostgresRegistryStore(url, options);
    try {
      await store.transaction((db) => migrateTables(db, store.schema));
      await store.changes.start((await store.version()).version);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private t(table: string): string {
    return `"${this.schema}".${table}`;
  }

  async apply(req: registryV1.ApplyRegistryRequest): Promise<registryV1.ApplyRegistryResponse> {
    return this.write(
      req.expectedVersion,
      req.project,
      (before, commit) => planApply(before, req, commit),
      (plan, version, applied) => create(registryV1.ApplyRegistryResponseSchema, { version, diffs: plan.diffs, applied }),
      req.planOnly,
    );
  }

  async version(): Promise<VersionInfo> {
    const { rows } = await this.pool.query<{ version: string; updated_time: Date | null }>(`SELECT version, updated_time FROM ${this.t('meta')}`);
    const row = rows[0];
    return {
      version: BigInt(row?.version ?? '0'),
      updatedTime: row?.updated_time ? timestampFromDate(row.updated_time) : undefined,
    };
  }

  async getProject(name: string): Promise<Versioned<registryV1.Project>> {
    const { rows } = await this.pool.query<{ version: string; data: Buffer | null }>(
      `SELECT m.version, o.data FROM ${this.t('meta')} m
       LEFT JOIN ${this.t('objects')} o ON o.project = $1 AND o.kind = $2 AND o.name = $1`,
      [name, PROJECT],
    );
    const row = rows[0];
    if (row?.data == null) throw notFound(PROJECT, name);
    return { value: fromBinary(registryV1.ProjectSchema, row.data), version: BigInt(row.version) };
  }

  async listProjects(filter?: registryV1.ObjectFilter): Promise<Versioned<registryV1.Project[]>> {
    const { rows } = await this.pool.query<{ version: string; data: Buffer | null }>(
      `SELECT m.version, o.data FROM ${this.t('meta')} m LEFT JOIN ${this.t('objects')} o ON o.kind = $1`,
      [PROJECT],
    );
    const all = rows.flatMap((r) => (r.data == null ? [] : [fromBinary(registryV1.ProjectSchema, r.data)]));
    return { value: sortByName(filter === undefined ? all : all.filter((p) => matchesFilter(p, filter))), version: BigInt(rows[0]?.version ?? '0') };
  }

  async deleteProject(name: string, expectedVersion?: bigint): Promise<bigint> {
    return this.write(
      expectedVersion,
      name,
      (before) => planDeleteProject(before, name),
      (_plan, version) => version,
      false,
    );
  }

  async getObject<K extends ObjectKindInProject>(kind: K, project: string, name: string): Promise<Versioned<ObjectOf<K>>> {
    const { rows } = await this.pool.query<{ version: string; project: Buffer | null; data: Buffer | null }>(
      `SELECT m.version, p.data AS project, o.data FROM ${this.t('meta')} m
       LEFT JOIN ${this.t('objects')} p ON p.project = $1 AND p.kind = $2 AND p.name = $1
       LEFT JOIN ${this.t('objects')} o ON o.project = $1 AND o.kind = $3 AND o.name = $4`,
      [project, PROJECT, kind, name],
    );
    const row = rows[0];
    if (row?.project == null) throw notFound(PROJECT, project);
    if (row.data == null) throw notFound(kind, name, project);
    return { value: fromBinary(kindInfo(kind).schema, row.data) as ObjectOf<K>, version: BigInt(row.version) };
  }

  async listObjects<K extends ObjectKindInProject>(kind: K, project: string, filter?: registryV1.ObjectFilter): Promise<Versioned<ObjectOf<K>[]>> {
    const { rows } = await this.pool.query<{ version: string; kind: number | null; name: string | null; data: Buffer | null }>(
      `SELECT m.version, o.kind, o.name, o.data FROM ${this.t('meta')} m
       LEFT JOIN ${this.t('objects')} o ON o.project = $1 AND (o.kind = $3 OR (o.kind = $2 AND o.name = $1))`,
      [project, PROJECT, kind],
    );
    const p = projectFromRows(rows.flatMap((r) => (r.data == null ? [] : [{ project, kind: r.kind ?? 0, name: r.name ?? '', data: r.data }])));
    return { value: filterObjects(p, kind, project, filter), version: BigInt(rows[0]?.version ?? '0') };
  }

  async deleteObject(kind: ObjectKindInProject, project: string, name: string, expectedVersion?: bigint): Promise<bigint> {
    return this.write(
      expectedVersion,
      project,
      (before) => planDelete(before, project, kind, name),
      (_plan, version) => version,
      false,
    );
  }

  async registrySets(project?: string): Promise<Versioned<RegistrySet[]>> {
    const { projects, version } = await this.readProjects(project);
    return { value: projects.map(toRegistrySet), version };
  }

  async snapshot(project?: string): Promise<registryV1.WatchRegistryResponse> {
    const { projects, version } = await this.readProjects(project);
    return snapshotOf(projects, version);
  }

  async changesSince(version: bigint): Promise<registryV1.WatchRegistryResponse[] | undefined> {
    const { rows } = await this.pool.query<{ current: string; version: string | null; data: Buffer | null }>(
      `SELECT m.version AS current, c.version, c.data FROM ${this.t('meta')} m
       LEFT JOIN ${this.t('changes')} c ON c.version > $1 ORDER BY c.version`,
      [String(version)],
    );
    const current = BigInt(rows[0]?.current ?? '0');
    if (version > current || version < 0n) return undefined;
    const entries = rows.flatMap((r) => (r.data == null ? [] : [fromBinary(registryV1.WatchRegistryResponseSchema, r.data)]));
    if (entries.length === 0) return version === current ? [] : undefined;
    return entries[0]?.version === version + 1n ? entries : undefined;
  }

  subscribe(listener: ChangeListener): () => void {
    return this.changes.subscribe(listener);
  }

  async getMaterializationState(project: string, views?: readonly string[]): Promise<registryV1.MaterializationState[]> {
    const [objects, stored] = await Promise.all([
      this.pool.query<ObjectRow>(`SELECT project, kind, name, data FROM ${this.t('objects')} WHERE project = $1 AND kind IN ($2, $3)`, [
        project,
        PROJECT,
        registryV1.ObjectKind.FEATURE_VIEW,
      ]),
      this.pool.query<{ feature_view: string; data: Buffer }>(`SELECT feature_view, data FROM ${this.t('materialization')} WHERE project = $1`, [project]),
    ]);
    const states = new Map(stored.rows.map((r) => [r.feature_view, fromBinary(registryV1.MaterializationStateSchema, r.data)]));
    return statesFor(projectFromRows(objects.rows), project, views, (view) => states.get(view));
  }

  async updateMaterializationState(req: registryV1.UpdateMaterializationStateRequest): Promise<registryV1.MaterializationState> {
    checkMaterializationUpdate(req);
    return this.transaction(async (db) => {
      const { rows } = await db.query<ObjectRow>(
        `SELECT project, kind, name, data FROM ${this.t('objects')} WHERE project = $1 AND ((kind = $2 AND name = $1) OR (kind = $3 AND name = $4))`,
        [req.project, PROJECT, registryV1.ObjectKind.FEATURE_VIEW, req.featureView],
      );
      findObject(projectFromRows(rows), registryV1.ObjectKind.FEATURE_VIEW, req.project, req.featureView);
      // Serialize reports on the view, even before its record exists (FOR UPDATE
      // locks no row then), so the lease check and the write are one step.
      await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`larder-materialization:${this.schema}:${req.project}/${req.featureView}`]);
      const previous = await db.query<{ data: Buffer }>(`SELECT data FROM ${this.t('materialization')} WHERE project = $1 AND feature_view = $2 FOR UPDATE`, [
        req.project,
        req.featureView,
      ]);
      const prior = previous.rows[0] === undefined ? undefined : fromBinary(registryV1.MaterializationStateSchema, previous.rows[0].data);
      const state = mergeMaterializationState(prior, req, timestampNow());
      await db.query(
        `INSERT INTO ${this.t('materialization')} (project, feature_view, data) VALUES ($1, $2, $3)
         ON CONFLICT (project, feature_view) DO UPDATE SET data = EXCLUDED.data`,
        [req.project, req.featureView, Buffer.from(toBinary(registryV1.MaterializationStateSchema, state))],
      );
      return state;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.changes.close();
    await this.pool.end().catch(() => undefined);
  }

  /**
   * The optimistic write: read the version and the project, plan, then
   * commit only if the version row still holds what was read.
   */
  private async write<R>(
    expectedVersion: bigint | undefined,
    project: string,
    plan: (before: ProjectObjects | undefined, commit: Commit) => Plan,
    answer: (plan: Plan, version: bigint, applied: boolean) => R,
    planOnly: boolean,
  ): Promise<R> {
    const result = await this.transaction(async (db) => {
      const meta = await db.query<{ version: string }>(`SELECT version FROM ${this.t('meta')}`);
      const read = BigInt(meta.rows[0]?.version ?? '0');
      if (expectedVersion !== undefined && expectedVersion !== read) throw versionMismatch(expectedVersion, read);
      const objects = await db.query<ObjectRow>(`SELECT project, kind, name, data FROM ${this.t('objects')} WHERE project = $1`, [project]);
      const before = projectFromRows(objects.rows);
      const commit: Commit = { version: read + 1n, now: timestampNow() };
      const planned = plan(before, commit);
      if (planOnly || planned.changes.length === 0) return { answer: answer(planned, read, false), committed: false };

      const bumped = await db.query(`UPDATE ${this.t('meta')} SET version = $1, updated_time = $2 WHERE id = 1 AND version = $3`, [
        String(commit.version),
        timestampDate(commit.now),
        String(read),
      ]);
      if (bumped.rowCount !== 1) throw concurrentChange(read);
      await this.writeObjects(db, project, planned);
      const entry = create(registryV1.WatchRegistryResponseSchema, { version: commit.version, changes: planned.changes });
      await db.query(`INSERT INTO ${this.t('changes')} (version, committed_at, data) VALUES ($1, $2, $3)`, [
        String(commit.version),
        timestampDate(commit.now),
        Buffer.from(toBinary(registryV1.WatchRegistryResponseSchema, entry)),
      ]);
      await db.query(`DELETE FROM ${this.t('changes')} WHERE version <= $1`, [String(commit.version - BigInt(this.keepVersions))]);
      // Delivered to every LISTENer (this instance's included) when the transaction commits.
      await db.query('SELECT pg_notify($1, $2)', [this.channel, String(commit.version)]);
      return { answer: answer(planned, commit.version, true), committed: true };
    });
    if (result.committed) await this.changes.pump();
    return result.answer;
  }

  private async writeObjects(db: PoolClient, project: string, plan: Plan): Promise<void> {
    const upserts: { kind: number[]; name: string[]; data: Buffer[] } = { kind: [], name: [], data: [] };
    const deletes: { kind: number[]; name: string[] } = { kind: [], name: [] };
    for (const change of plan.changes) {
      if (change.change === registryV1.ChangeType.DELETE) {
        deletes.kind.push(change.kind);
        deletes.name.push(change.name);
        continue;
      }
      const value = change.object.value;
      if (value === undefined) continue;
      const schema = change.kind === PROJECT ? registryV1.ProjectSchema : kindInfo(change.kind).schema;
      upserts.kind.push(change.kind);
      upserts.name.push(change.name);
      upserts.data.push(Buffer.from(toBinary(schema, value as never)));
    }
    if (deletes.kind.length > 0) {
      await db.query(
        `DELETE FROM ${this.t('objects')} o USING unnest($2::int[], $3::text[]) AS d(kind, name)
         WHERE o.project = $1 AND o.kind = d.kind AND o.name = d.name`,
        [project, deletes.kind, deletes.name],
      );
    }
    if (upserts.kind.length > 0) {
      await db.query(
        `INSERT INTO ${this.t('objects')} (project, kind, name, data)
         SELECT $1, kind, name, data FROM unnest($2::int[], $3::text[], $4::bytea[]) AS u(kind, name, data)
         ON CONFLICT (project, kind, name) DO UPDATE SET data = EXCLUDED.data`,
        [project, upserts.kind, upserts.name, upserts.data],
      );
    }
    if (plan.after === undefined) {
      await db.query(`DELETE FROM ${this.t('materialization')} WHERE project = $1`, [project]);
    } else if (plan.removedViews.length > 0) {
      await db.query(`DELETE FROM ${this.t('materialization')} WHERE project = $1 AND feature_view = ANY($2::text[])`, [project, plan.removedViews]);
    }
  }

  private async readProjects(project: string | undefined): Promise<{ projects: ProjectObjects[]; version: bigint }> {
    const filtered = project !== undefined && project !== '';
    // One statement, so the version and the objects come from one snapshot.
    const { rows } = await this.pool.query<ObjectRow & { version: string }>(
      `SELECT m.version, o.project, o.kind, o.name, o.data FROM ${this.t('meta')} m
       LEFT JOIN ${this.t('objects')} o ON ${filtered ? 'o.project = $1' : 'true'}`,
      filtered ? [project] : [],
    );
    const byProject = new Map<string, ObjectRow[]>();
    for (const row of rows) {
      if (row.data == null) continue;
      let list = byProject.get(row.project);
      if (list === undefined) byProject.set(row.project, (list = []));
      list.push(row);
    }
    const projects = [...byProject.values()].flatMap((list) => {
      const p = projectFromRows(list);
      return p === undefined ? [] : [p];
    });
    if (filtered && projects.length === 0) throw notFound(PROJECT, project);
    return { projects, version: BigInt(rows[0]?.version ?? '0') };
  }

  private async transaction<R>(work: (db: PoolClient) => Promise<R>): Promise<R> {
    const db = await this.pool.connect();
    try {
      await db.query('BEGIN');
      const result = await work(db);
      await db.query('COMMIT');
      return result;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      db.release();
    }
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
