// A hostile client against the real offline-retrieval service over gRPC, on DuckDB and
// PostgreSQL: paths outside the configured roots (absolute, `..`, symlinks, globs, URLs),
// overwrites of things Larder did not write, SQL sent as an entity source, and work that
// must stop when the caller cancels or its deadline passes. Each attack is refused with a
// precise status and leaves nothing behind.
import { create } from '@bufbuild/protobuf';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { offlineV1, registryV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { testServices, waitUntil } from '@larder/testing';
import { featureRepo, makeData } from './testing/dataset';
import type { SourceKind } from './testing/dataset';
import { duckdbTestEngine, postgresTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, loadSources, rpcError, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

const data = makeData(5);
const TRIPS = { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } };

const fileEntities = (path: string): offlineV1.EntitySource =>
  create(offlineV1.EntitySourceSchema, { location: { case: 'file', value: { path } }, timestampColumn: 'event_timestamp' });

describe('offline retrieval on duckdb: paths stay under the roots', () => {
  let engine: TestEngine;
  let kinds: Record<'driver' | 'customer' | 'pair' | 'global', SourceKind>;
  let harness: Harness;
  let outside: string;
  let entityFile: string;

  beforeAll(async () => {
    engine = await duckdbTestEngine();
    kinds = await loadSources(engine, data);
    const entities = await engine.load(data.tables.entities);
    entityFile = (entities.value as registryV1.FileSource).path;
    // A readable entity file the service must not reach: outside its roots.
    outside = mkdtempSync(join(tmpdir(), 'larder-outside-'));
    writeFileSync(join(outside, 'entities.parquet'), readFileSync(entityFile));
    harness = await startHarness(engine.env, (project) => featureRepo(project, kinds));
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  const read = (source: offlineV1.EntitySource) =>
    rpcError(() => collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: source })));

  it('the entity file inside the root is read (the roots do not block the legitimate path)', async () => {
    const result = await collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: fileEntities(entityFile) }));
    expect(result.rows).toHaveLength(data.tables.entities.rows.length);
  });

  it('an absolute path outside the roots (/etc/passwd) is PERMISSION_DENIED naming the root, not the working directory', async () => {
    const error = await read(fileEntities('/etc/passwd'));
    expect(error.code).toBe(Code.PERMISSION_DENIED);
    expect(error.message).toBe(`entity_source.file.path: '/etc/passwd' is outside the read root '${engine.dir}'`);
    expect(error.message).not.toContain(process.cwd());
  });

  it('`..` out of the root, to a real readable Parquet file, is PERMISSION_DENIED', async () => {
    const climb = join(engine.dir, '..', outside.split('/').pop()!, 'entities.parquet').replace(join(engine.dir, '..'), `${engine.dir}/..`);
    expect(climb).toContain('/../');
    const error = await read(fileEntities(climb));
    expect(error.code).toBe(Code.PERMISSION_DENIED);
    expect(error.message).toContain(`is outside the read root '${engine.dir}'`);
  });

  it('a symlink inside the root pointing out, directly or matched by a glob or folder, is PERMISSION_DENIED', async () => {
    const links = join(engine.dir, 'links');
    mkdirSync(links, { recursive: true });
    symlinkSync(join(outside, 'entities.parquet'), join(links, 'escape.parquet'));
    const direct = await read(fileEntities(join(links, 'escape.parquet')));
    expect(direct.code).toBe(Code.PERMISSION_DENIED);
    const globbed = await read(fileEntities(join(links, '*.parquet')));
    expect(globbed.code).toBe(Code.PERMISSION_DENIED);
    expect(globbed.message).toContain('matches a file that resolves outside');
    expect(globbed.message).not.toContain(outside);
    const folder = await read(fileEntities(`${links}/`));
    expect(folder.code).toBe(Code.PERMISSION_DENIED);
    // A symlinked folder: its fixed part resolves outside.
    symlinkSync(outside, join(engine.dir, 'elsewhere'));
    const throughFolder = await read(fileEntities(join(engine.dir, 'elsewhere', '*.parquet')));
    expect(throughFolder.code).toBe(Code.PERMISSION_DENIED);
  });

  it('a glob that climbs out after its wildcard is PERMISSION_DENIED', async () => {
    mkdirSync(join(engine.dir, 'a'), { recursive: true });
    const error = await read(fileEntities(`${engine.dir}/*/../../${outside.split('/').pop()!}/*.parquet`));
    expect(error.code).toBe(Code.PERMISSION_DENIED);
  });

  it('http:// and s3:// paths are refused as URLs, and nothing is fetched', async () => {
    for (const url of ['http://127.0.0.1:9/entities.parquet', 's3://bucket/entities.parquet', 'https://example.com/x.csv']) {
      const error = await read(fileEntities(url));
      expect(error.code).toBe(Code.PERMISSION_DENIED);
      expect(error.message).toContain(`'${url}' is a URL`);
    }
  });

  it('a destination outside the write root is PERMISSION_DENIED and nothing is written', async () => {
    const target = join(outside, 'result.csv');
    const error = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { ...TRIPS, destination: { storage: { kind: { case: 'file', value: { path: target } } }, omitRows: true } },
          entitySource: fileEntities(entityFile),
        }),
      ),
    );
    expect(error.code).toBe(Code.PERMISSION_DENIED);
    expect(error.message).toContain(`query.destination.storage.file.path`);
    expect(error.message).toContain(`is outside the write root '${engine.dir}'`);
    expect(existsSync(target)).toBe(false);
  });

  it('overwrite never replaces a folder or a file Larder did not write; it replaces its own result', async () => {
    const write = (path: string) =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { ...TRIPS, destination: { storage: { kind: { case: 'file', value: { path } } }, overwrite: true, omitRows: true } },
          entitySource: fileEntities(entityFile),
        }),
      );
    const precious = join(engine.dir, 'precious');
    mkdirSync(join(precious, 'inner'), { recursive: true });
    writeFileSync(join(precious, 'inner', 'keep.txt'), 'keep me');
    const folder = await rpcError(() => write(precious));
    expect(folder.code).toBe(Code.FAILED_PRECONDITION);
    expect(folder.message).toContain('is a folder');
    expect(readFileSync(join(precious, 'inner', 'keep.txt'), 'utf8')).toBe('keep me');
    const notes = join(engine.dir, 'notes.csv');
    writeFileSync(notes, 'mine,not larder\n');
    const foreign = await rpcError(() => write(notes));
    expect(foreign.code).toBe(Code.FAILED_PRECONDITION);
    expect(foreign.message).toContain('was not written by Larder');
    expect(readFileSync(notes, 'utf8')).toBe('mine,not larder\n');
    const own = join(engine.dir, 'results', 'training.csv');
    expect((await write(own)).summary?.rowCount).toBe(BigInt(data.tables.entities.rows.length));
    writeFileSync(own, 'stale');
    await write(own);
    expect(readFileSync(own, 'utf8').split('\n')[0]).toContain('trips');
    // No temporary file is left beside it.
    expect(readdirSync(join(engine.dir, 'results')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a registry FileSource outside the roots is refused where it is used (PERMISSION_DENIED naming the source)', async () => {
    writeFileSync(join(outside, 'driver.parquet'), readFileSync((kinds.driver.value as registryV1.FileSource).path));
    const foreign = await startHarness(engine.env, (project) =>
      featureRepo(project, { ...kinds, driver: { case: 'file', value: create(registryV1.FileSourceSchema, { path: join(outside, 'driver.parquet') }) } }),
    );
    try {
      const error = await rpcError(() => collect(foreign.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: fileEntities(entityFile) })));
      expect(error.code).toBe(Code.PERMISSION_DENIED);
      expect(error.message).toContain("source 'driver_src' path");
      expect(error.message).toContain(`is outside the read root '${engine.dir}'`);
    } finally {
      await foreign.close();
    }
  }, 30_000);
});

describe('offline retrieval on duckdb: cancellation and deadlines stop the engine', () => {
  let dir: string;
  let harness: Harness;
  let entityPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'larder-cancel-'));
    // Big enough that the join takes several seconds of DuckDB's threads.
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    const ts = (expr: string) => `make_timestamp((1704067200000000 + (${expr}) * 1000000)::BIGINT)`;
    await c.run(
      `COPY (SELECT (i % 200000)::BIGINT AS driver_id, ${ts('i % 86400')} AS event_ts, ${ts('i % 86400')} AS created_ts, 0.5::DOUBLE AS conv_rate, i::BIGINT AS trips FROM range(20000000) t(i)) TO '${join(dir, 'driver.parquet')}' (FORMAT parquet)`,
    );
    entityPath = join(dir, 'entities.parquet');
    await c.run(
      `COPY (SELECT (i % 200000)::BIGINT AS driver_id, ${ts('(i * 7) % 86400')} AS event_timestamp FROM range(4000000) t(i)) TO '${entityPath}' (FORMAT parquet)`,
    );
    c.closeSync();
    instance.closeSync();
    const small = await duckdbTestEngine();
    const kinds = {
      driver: { case: 'file', value: create(registryV1.FileSourceSchema, { path: join(dir, 'driver.parquet') }) } as SourceKind,
      customer: await small.load(data.tables.customer),
      pair: await small.load(data.tables.pair),
      global: await small.load(data.tables.global),
    };
    harness = await startHarness(
      { LARDER_OFFLINE_STORE_TYPE: 'duckdb', LARDER_OFFLINE_READ_ROOTS: `${dir},${small.dir}`, LARDER_OFFLINE_WRITE_ROOT: dir },
      (project) => featureRepo(project, kinds),
    );
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** CPU this process (which runs the service and DuckDB's threads) spends over the next `ms`. */
  async function cpuOver(ms: number): Promise<number> {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  }

  const busy = (options: { timeoutMs?: number; signal?: AbortSignal }) =>
    rpcError(() => collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: fileEntities(entityPath) }, options)));

  it('a deadline gives DEADLINE_EXCEEDED and the join stops within a second', async () => {
    const started = Date.now();
    const error = await busy({ timeoutMs: 1_500 });
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // A running join keeps both cores busy (~2,000 ms per second); an interrupted one, none.
    expect(await cpuOver(1_000)).toBeLessThan(250);
  }, 60_000);

  it('a client cancel stops the join within a second', async () => {
    const controller = new AbortController();
    const call = busy({ signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Still working when cancelled: the join really was running (an idle process takes a few ms a second;
    // on a shared machine the join gets less than its two cores).
    expect(await cpuOver(1_000)).toBeGreaterThan(100);
    controller.abort();
    expect((await call).code).toBe(Code.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await cpuOver(1_000)).toBeLessThan(250);
  }, 60_000);
});

describe('offline retrieval on postgres: no SQL from clients; registered queries run read-only', () => {
  let engine: TestEngine;
  let harness: Harness;
  let client: pg.Client;
  let entityTable: SourceKind;

  beforeAll(async () => {
    engine = await postgresTestEngine();
    const kinds = await loadSources(engine, data);
    entityTable = await engine.load(data.tables.entities);
    client = new pg.Client({ connectionString: testServices().postgres.url });
    await client.connect();
    await client.query('DROP TABLE IF EXISTS larder_pwned; DROP TABLE IF EXISTS larder_written');
    await client.query('CREATE TABLE larder_written (x int)');
    const customerTable = (kinds.customer.value as registryV1.PostgresSource).location.value as string;
    // A registered source whose query tries to write (a volatile function that inserts): it must fail read-only.
    await client.query(
      `CREATE OR REPLACE FUNCTION larder_sneaky_write() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO larder_written VALUES (1) RETURNING 1'`,
    );
    const writing = {
      case: 'postgres',
      value: { location: { case: 'query', value: `SELECT c.*, larder_sneaky_write() AS w FROM "${customerTable}" c` } },
    } as SourceKind;
    // A registered source that takes ~0.2 s per row: a join over it runs for tens of seconds.
    const pairTable = (kinds.pair.value as registryV1.PostgresSource).location.value as string;
    const sleeping = {
      case: 'postgres',
      value: { location: { case: 'query', value: `SELECT p.*, pg_sleep(0.2) AS larder_slow FROM "${pairTable}" p` } },
    } as SourceKind;
    harness = await startHarness(engine.env, (project) => featureRepo(project, { ...kinds, customer: writing, pair: sleeping }));
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
    await client
      ?.query('DROP TABLE IF EXISTS larder_pwned; DROP TABLE IF EXISTS larder_written; DROP FUNCTION IF EXISTS larder_sneaky_write()')
      .catch(() => undefined);
    await client?.end();
    await engine?.cleanup();
  });

  it('an entity query from the client is INVALID_ARGUMENT naming the field, and does not run', async () => {
    for (const query of [
      'CREATE TABLE larder_pwned AS SELECT 1 AS x',
      'SELECT 1) s; CREATE TABLE larder_pwned (x int); SELECT (1',
      "SELECT pg_read_file('/etc/passwd') AS event_timestamp",
    ]) {
      const source = create(offlineV1.EntitySourceSchema, { location: { case: 'postgres', value: { location: { case: 'query', value: query } } } });
      const error = await rpcError(() => collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: source })));
      expect(error.code).toBe(Code.INVALID_ARGUMENT);
      expect(error.message).toMatch(/^entity_source\.postgres\.query: SQL from a client is not run/);
    }
    expect((await client.query(`SELECT to_regclass('larder_pwned') IS NULL AS gone`)).rows[0]).toEqual({ gone: true });
    const table = create(offlineV1.EntitySourceSchema, {
      location: { case: 'postgres', value: { location: { case: 'table', value: 'x"; DROP TABLE larder_written; --' } } },
    });
    const badName = await rpcError(() => collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: TRIPS, entitySource: table })));
    expect(badName.code).toBe(Code.INVALID_ARGUMENT);
    expect(badName.message).toMatch(/^entity_source\.postgres\.table: /);
    expect((await client.query(`SELECT to_regclass('larder_written') IS NOT NULL AS kept`)).rows[0]).toEqual({ kept: true });
  });

  it('a registered query source runs in a read-only transaction: a write inside it fails and leaves nothing', async () => {
    const error = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeatures(
          (async function* () {
            yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
              message: { case: 'query', value: { kind: { case: 'features', value: { val: ['customer_profile:segment'] } } } },
            });
            yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
              message: {
                case: 'entityRows',
                value: { columns: { customer_id: { val: [{ val: { case: 'stringVal', value: 'c1' } }] } }, eventTimestamps: [{ seconds: 1704070800n }] },
              },
            });
          })(),
        ),
      ),
    );
    expect(error.message).toContain('read-only transaction');
    expect((await client.query('SELECT count(*)::int AS n FROM larder_written')).rows[0]).toEqual({ n: 0 });
  });

  it('a deadline gives DEADLINE_EXCEEDED and the backend stops the query (pg_stat_activity)', async () => {
    const started = Date.now();
    const source = create(offlineV1.EntitySourceSchema, { location: entityTable as offlineV1.EntitySource['location'], timestampColumn: 'event_timestamp' });
    const error = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource(
          { query: { kind: { case: 'features', value: { val: ['pair_stats:rides'] } } }, entitySource: source },
          { timeoutMs: 1_500 },
        ),
      ),
    );
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The backend runs the cursor's FETCH (its text is not the source's): look for the sleep itself.
    const active = async () =>
      (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND (wait_event = 'PgSleep' OR query LIKE '%larder_slow%') AND pid <> pg_backend_pid()`,
        )
      ).rows[0]!.n;
    // Uncancelled, the query sleeps 0.2 s per row of ~200 rows (~40 s): gone within 10 s of
    // the deadline means it was stopped, on a loaded machine as on a quiet one.
    await waitUntil(async () => (await active()) === 0, { what: 'the backend running the expired query to stop', timeoutMs: 10_000 });
    expect(await active()).toBe(0);
  }, 30_000);
});
