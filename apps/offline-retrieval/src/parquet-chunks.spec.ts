// RESULT_FORMAT_PARQUET over real gRPC on DuckDB: the engine's Parquet files carry the
// same rows as the value chunks (nulls and timestamps included, under whatever TZ the run
// has), cut by the server's byte limit whatever the client asks, in a private folder
// that is gone when the call ends, however it ends.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { offlineV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { featureRepo, makeData } from './testing/dataset';
import type { SourceKind } from './testing/dataset';
import { duckdbTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, inlineRequests, rpcError, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

const data = makeData();
const entities = data.tables.entities;
const REFS = ['driver_stats:conv_rate', 'driver_stats:trips', 'customer_profile:segment', 'customer_profile:vip', 'pair_stats:rides', 'global_stats:active'];
const MAX_CHUNK_BYTES = 4_096;
const PARQUET = offlineV1.ResultFormat.PARQUET;

describe('parquet result chunks on duckdb', () => {
  let engine: TestEngine;
  let harness: Harness;
  let entitySource: SourceKind;
  let chunkDir: string;
  let scratch: string;
  let reader: DuckDBInstance;
  let read: DuckDBConnection;

  beforeAll(async () => {
    engine = await duckdbTestEngine();
    const kinds = {
      driver: await engine.load(data.tables.driver),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    entitySource = await engine.load(entities);
    chunkDir = mkdtempSync(join(tmpdir(), 'larder-parquet-chunks-'));
    scratch = mkdtempSync(join(tmpdir(), 'larder-parquet-read-'));
    harness = await startHarness(engine.env, (project) => featureRepo(project, kinds), {
      LARDER_DUCKDB_CHUNK_DIRECTORY: chunkDir,
      LARDER_RETRIEVAL_MAX_CHUNK_BYTES: String(MAX_CHUNK_BYTES),
    });
    reader = await DuckDBInstance.create(':memory:');
    read = await reader.connect();
  }, 120_000);

  afterAll(async () => {
    read?.closeSync();
    reader?.closeSync();
    await harness?.close();
    await engine?.cleanup();
    rmSync(chunkDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  type Extra = { maxRowsPerChunk?: number; resultFormat?: offlineV1.ResultFormat; entityColumns?: string[] };
  const query = (extra: Extra = {}) => ({ kind: { case: 'features' as const, value: { val: REFS } }, fullFeatureNames: true, ...extra });
  const fromSource = (extra: Extra = {}) =>
    harness.retrieval.getHistoricalFeaturesFromSource({
      query: query(extra),
      entitySource: create(offlineV1.EntitySourceSchema, { location: entitySource as offlineV1.EntitySource['location'] }),
    });

  interface Drained {
    schema: offlineV1.ResultSchema;
    columns: string[][];
    rows: Record<string, unknown>[];
    chunks: { rows: number; bytes: number }[];
    summary: offlineV1.ResultSummary;
  }

  /** Drains a Parquet stream, checking its shape, and reads every file with DuckDB. */
  async function drainParquet(
    parts: AsyncIterable<offlineV1.GetHistoricalFeaturesFromSourceResponse | offlineV1.GetHistoricalFeaturesResponse>,
  ): Promise<Drained> {
    let schema: offlineV1.ResultSchema | undefined;
    let summary: offlineV1.ResultSummary | undefined;
    const out: Drained = { schema: undefined as never, columns: [], rows: [], chunks: [], summary: undefined as never };
    for await (const { part } of parts) {
      if (summary !== undefined) throw new Error('a message after the summary');
      if (part.case === 'schema') schema = part.value;
      else if (part.case === 'summary') summary = part.value;
      else if (part.case === 'parquetChunk') {
        if (schema === undefined) throw new Error('a chunk before the schema');
        const chunk = part.value;
        expect(Number(chunk.firstRow)).toBe(out.rows.length);
        const file = join(scratch, `${out.chunks.length}.parquet`);
        writeFileSync(file, chunk.parquet);
        const result = await read.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
        out.columns.push(result.columnNames().map((n, i) => `${n} ${result.columnTypes()[i]}`));
        const rows = result.getRowObjectsJS();
        expect(rows.length).toBe(Number(chunk.rowCount));
        out.rows.push(...rows);
        out.chunks.push({ rows: rows.length, bytes: chunk.parquet.length });
      } else throw new Error(`unexpected part ${part.case}`);
    }
    if (schema === undefined || summary === undefined) throw new Error('stream without schema or summary');
    return { ...out, schema, summary };
  }

  /** Value-chunk rows as DuckDB reads the Parquet ones (timestamps as Dates, numbers as they are typed). */
  const sameShape = (rows: Record<string, unknown>[]) =>
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.getTime() : v])));

  it('streams the rows of the value chunks, as Parquet files with the schema’s columns and types', async () => {
    const values = await collect(fromSource({ maxRowsPerChunk: 37 }));
    const parquet = await drainParquet(fromSource({ maxRowsPerChunk: 37, resultFormat: PARQUET }));
    expect(parquet.schema).toEqual(values.schema);
    expect(parquet.summary.rowCount).toBe(BigInt(entities.rows.length));
    expect(parquet.chunks.length).toBe(Math.ceil(entities.rows.length / 37));
    // Entity columns, the timestamp (an instant), then the features under their output names.
    expect(parquet.columns[0]).toEqual([
      'driver_id BIGINT',
      'customer_id VARCHAR',
      'rider_id VARCHAR',
      'request_id VARCHAR',
      'amount DOUBLE',
      'event_timestamp TIMESTAMP WITH TIME ZONE',
      'driver_stats__conv_rate DOUBLE',
      'driver_stats__trips BIGINT',
      'customer_profile__segment VARCHAR',
      'customer_profile__vip BOOLEAN',
      'pair_stats__rides BIGINT',
      'global_stats__active BIGINT',
    ]);
    expect(sameShape(parquet.rows)).toEqual(sameShape(values.rows));
    expect(parquet.rows.filter((r) => r['driver_stats__trips'] === null).length).toBeGreaterThan(10);
    // Every call's folder is gone once it ended.
    expect(readdirSync(chunkDir)).toEqual([]);
  });

  it('answers inline entity rows with Parquet too', async () => {
    const order = ['driver_id', 'customer_id', 'rider_id', 'request_id', 'amount'];
    const values = await collect(harness.retrieval.getHistoricalFeatures(inlineRequests(query({ entityColumns: order }), entities, 45)));
    const parquet = await drainParquet(
      harness.retrieval.getHistoricalFeatures(inlineRequests(query({ entityColumns: order, resultFormat: PARQUET }), entities, 45)),
    );
    expect(sameShape(parquet.rows)).toEqual(sameShape(values.rows));
  });

  it('streams Parquet beside a destination the engine writes', async () => {
    const path = join(engine.dir, 'parquet-destination.parquet');
    const destination = { storage: { kind: { case: 'file' as const, value: { path } } }, overwrite: true };
    const values = await collect(fromSource());
    const parquet = await drainParquet(
      harness.retrieval.getHistoricalFeaturesFromSource({
        query: { ...query({ resultFormat: PARQUET }), destination },
        entitySource: create(offlineV1.EntitySourceSchema, { location: entitySource as offlineV1.EntitySource['location'] }),
      }),
    );
    expect(sameShape(parquet.rows)).toEqual(sameShape(values.rows));
    expect(parquet.summary.storage?.kind.case).toBe('file');
    const written = await read.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet('${path}')`);
    expect(written.getRowObjectsJS()[0]!['n']).toBe(entities.rows.length);
  });

  it('keeps every chunk under the server’s byte limit whatever row count the client asks for', async () => {
    const parquet = await drainParquet(fromSource({ maxRowsPerChunk: 2_147_483_647, resultFormat: PARQUET }));
    expect(parquet.rows.length).toBe(entities.rows.length);
    expect(parquet.chunks.length).toBeGreaterThan(1);
    for (const chunk of parquet.chunks) expect(chunk.rows === 1 || chunk.bytes <= MAX_CHUNK_BYTES).toBe(true);
  });

  it('refuses an unknown result format and a negative row count, naming the field', async () => {
    const unknown = await rpcError(() => drainParquet(fromSource({ resultFormat: 7 as offlineV1.ResultFormat })));
    expect(unknown.code).toBe(Code.INVALID_ARGUMENT);
    expect(unknown.message).toContain('query.result_format');
    const negative = await rpcError(() => drainParquet(fromSource({ maxRowsPerChunk: -5, resultFormat: PARQUET })));
    expect(negative.code).toBe(Code.INVALID_ARGUMENT);
    expect(negative.message).toContain('query.max_rows_per_chunk');
  });

  it('removes the call’s folder when the client cancels mid-stream', async () => {
    const controller = new AbortController();
    let chunks = 0;
    let during: string[] = [];
    const error = await rpcError(async () => {
      const call = harness.retrieval.getHistoricalFeaturesFromSource(
        {
          query: query({ resultFormat: PARQUET, maxRowsPerChunk: 5 }),
          entitySource: create(offlineV1.EntitySourceSchema, { location: entitySource as offlineV1.EntitySource['location'] }),
        },
        { signal: controller.signal },
      );
      for await (const { part } of call) {
        if (part.case !== 'parquetChunk') continue;
        chunks++;
        during = readdirSync(chunkDir);
        controller.abort();
      }
    });
    expect(error.code).toBe(Code.CANCELLED);
    expect(chunks).toBe(1);
    expect(during.length).toBe(1);
    const deadline = Date.now() + 10_000;
    while (readdirSync(chunkDir).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readdirSync(chunkDir)).toEqual([]);
  });
});
