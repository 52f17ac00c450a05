import Database from 'better-sqlite3';
import { checkEntityBatch, entityKeyEncoder, rowEventTs } from './columns';
import { serializeEntityKey } from './entity-key';
import { OnlineStoreError } from './errors';
import { viewCodec } from './packed-codec';
import type { CallOptions, EntityBatch, OnlineStore, ViewDescriptor, ViewRead, ViewReadResult, WriteResult, WriteRow } from './types';

export interface SqliteOnlineStoreOptions {
  /** Database file, created when missing; `:memory:` for a private in-memory store. */
  path: string;
  /** Table name. Default `larder_online`. */
  table?: string;
  /** Injectable clock (ms) for expiry. */
  now?: () => number;
}

const PURGE_EVERY_MS = 60_000;

/**
 * The embedded online store: one table keyed by (project, view, entity key), the entity key
 * serialized as Feast's version 3 and the row in the packed format. WAL mode, one
 * transaction per write batch, last-writer-wins in the upsert itself.
 */
export class SqliteOnlineStore implements OnlineStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly select: Database.Statement<[string, string, Buffer, number], { event_ts: number; value: Buffer }>;
  private readonly upsert: Database.Statement<[string, string, Buffer, number, number | null, Buffer, number]>;
  private readonly deleteStatement: Database.Statement<[string, string]>;
  private readonly purge: Database.Statement<[number]>;
  private readonly writeBatch: (view: ViewDescriptor, rows: readonly { key: Buffer; ts: number; value: Buffer }[]) => WriteResult;
  private readonly writeViews: (views: readonly ViewDescriptor[], rows: readonly (readonly { key: Buffer; ts: number; value: Buffer }[])[]) => WriteResult[];
  private lastPurge = 0;

  constructor(options: SqliteOnlineStoreOptions) {
    const table = options.table ?? 'larder_online';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new OnlineStoreError(`sqlite table name ${table} is not a plain identifier`);
    this.now = options.now ?? Date.now;
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      project TEXT NOT NULL,
      view TEXT NOT NULL,
      entity_key BLOB NOT NULL,
      event_ts INTEGER NOT NULL,
      expires_at INTEGER,
      value BLOB NOT NULL,
      PRIMARY KEY (project, view, entity_key)
    ) WITHOUT ROWID`);
    this.select = this.db.prepare(
      `SELECT event_ts, value FROM ${table} WHERE project = ? AND view = ? AND entity_key = ? AND (expires_at IS NULL OR expires_at > ?)`,
    );
    // An equal event time overwrites; an expired row counts as absent, whatever its time.
    this.upsert = this.db.prepare(
      `INSERT INTO ${table} (project, view, entity_key, event_ts, expires_at, value) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project, view, entity_key) DO UPDATE SET
         event_ts = excluded.event_ts, expires_at = excluded.expires_at, value = excluded.value
       WHERE excluded.event_ts >= ${table}.event_ts OR (${table}.expires_at IS NOT NULL AND ${table}.expires_at <= ?)`,
    );
    this.deleteStatement = this.db.prepare(`DELETE FROM ${table} WHERE project = ? AND view = ?`);
    this.purge = this.db.prepare(`DELETE FROM ${table} WHERE expires_at IS NOT NULL AND expires_at <= ?`);
    this.writeBatch = this.db.transaction((view: ViewDescriptor, rows: readonly { key: Buffer; ts: number; value: Buffer }[]) => {
      const now = this.now();
      const ttlMs = Math.round((view.keyTtlSeconds ?? 0) * 1000);
      const expiresAt = ttlMs > 0 ? now + ttlMs : null;
      const result: WriteResult = { written: 0, skipped: 0 };
      for (const row of rows) {
        const changes = this.upsert.run(view.project, view.name, row.key, row.ts, expiresAt, row.value, now).changes;
        if (changes > 0) result.written++;
        else result.skipped++;
      }
      if (now - this.lastPurge > PURGE_EVERY_MS) {
        this.lastPurge = now;
        this.purge.run(now);
      }
      return result;
    });
    // Nested transactions are savepoints: the views of a batch commit together.
    this.writeViews = this.db.transaction((views: readonly ViewDescriptor[], rows: readonly (readonly { key: Buffer; ts: number; value: Buffer }[])[]) =>
      views.map((view, v) => this.writeBatch(view, rows[v]!)),
    );
  }

  read(requests: readonly ViewRead[], _options?: CallOptions): Promise<ViewReadResult[]> {
    try {
      const now = this.now();
      return Promise.resolve(
        requests.map(({ view, features, entityKeys }) => {
          const plan = viewCodec(view).plan(features);
          return entityKeys.map((entityKey) => {
            const row = this.select.get(view.project, view.name, serializeEntityKey(entityKey), now);
            return row === undefined ? undefined : { ...plan.decode(row.value), eventTs: row.event_ts };
          });
        }),
      );
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new OnlineStoreError(String(error)));
    }
  }

  write(view: ViewDescriptor, rows: readonly WriteRow[], _options?: CallOptions): Promise<WriteResult> {
    try {
      const codec = viewCodec(view);
      const encoded = rows.map((row) => ({ key: serializeEntityKey(row.entityKey), ts: row.eventTs, value: codec.encode(row) }));
      return Promise.resolve(this.writeBatch(view, encoded));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new OnlineStoreError(String(error)));
    }
  }

  /** Every view's rows of the batch in one transaction, each with the same upsert as write(). */
  writeEntities(batch: EntityBatch, _options?: CallOptions): Promise<WriteResult[]> {
    try {
      checkEntityBatch(batch);
      const encoder = entityKeyEncoder(batch.joinKeys);
      const keys = new Array<Buffer>(batch.size);
      for (let i = 0; i < batch.size; i++) keys[i] = encoder.encode(batch.keyColumns, i, undefined, undefined);
      const encoded = batch.views.map((columns) => {
        const codec = viewCodec(columns.view);
        const rows: { key: Buffer; ts: number; value: Buffer }[] = [];
        for (let i = 0; i < batch.size; i++) {
          const row = columns.rowOf[i]!;
          if (row < 0) continue;
          const ts = rowEventTs(columns, row);
          rows.push({ key: keys[i]!, ts, value: codec.encodeColumns(columns, row, ts) });
        }
        return rows;
      });
      return Promise.resolve(
        this.writeViews(
          batch.views.map((v) => v.view),
          encoded,
        ),
      );
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new OnlineStoreError(String(error)));
    }
  }

  deleteView(view: ViewDescriptor): Promise<void> {
    this.deleteStatement.run(view.project, view.name);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
