// The order contract over real gRPC, on DuckDB, PostgreSQL and the BigQuery emulator:
// output columns in an order the request states (never a protobuf map's), output rows
// in the order an entity source's order column gives, a row index in every table
// written; plus BigQuery's refusals as precise statuses and inline rows staged in
// bounded groups whatever the client's batch size.
import { create } from '@bufbuild/protobuf';
import { BigQuery, Table as BigQueryTable } from '@google-cloud/bigquery';
import { offlineV1, typesV1 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { featureRepo, makeData, oracleViews } from './testing/dataset';
import type { SourceKind, Table } from './testing/dataset';
import { bigqueryTestEngine, duckdbTestEngine, postgresTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, inlineRequests, rpcError, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';
import { featureAt } from './testing/oracle';

const data = makeData(23);
const views = oracleViews(data);
const entities = data.tables.entities;
const T = typesV1.ValueType;

/** The entity rows with their position as `seq`, stored in a shuffled order. */
const shuffled: Table = {
  ...entities,
  name: 'entities_shuffled',
  columns: [{ name: 'seq', type: T.INT64 }, ...entities.columns],
  rows: entities.rows
    .map((row, i) => ({ seq: BigInt(i), ...row }))
    .sort((a, b) => ((Number(a['seq']) * 7919) % 101) - ((Number(b['seq']) * 7919) % 101) || Number(a['seq']) - Number(b['seq'])),
};

const features = (refs: string[]) => ({ case: 'features' as const, value: { val: refs } });
const trips = (e: Record<string, unknown>): unknown => featureAt(views.driver_stats, e as never, 'trips');

const ENGINES: { name: string; start: () => Promise<TestEngine> }[] = [
  { name: 'duckdb', start: () => duckdbTestEngine() },
  { name: 'postgres', start: postgresTestEngine },
  { name: 'bigquery', start: bigqueryTestEngine },
];

describe.each(ENGINES)('row and column order on $name', ({ name }) => {
  let engine: TestEngine;
  let harness: Harness;
  let shuffledSource: SourceKind;

  beforeAll(async () => {
    engine = await ENGINES.find((e) => e.name === name)!.start();
    const kinds = {
      driver: await engine.load(data.tables.driver),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    shuffledSource = await engine.load(shuffled);
    harness = await startHarness(engine.env, (project) => featureRepo(project, kinds));
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
  });

  const source = (orderColumn: string): offlineV1.EntitySource =>
    create(offlineV1.EntitySourceSchema, { location: shuffledSource as offlineV1.EntitySource['location'], orderColumn });

  it('inline rows: entity columns come in the order entity_columns names, or by name, whatever the map order', async () => {
    const order = ['request_id', 'driver_id', 'amount', 'customer_id', 'rider_id'];
    const stated = await collect(
      harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']), entityColumns: order }, entities, 40)),
    );
    expect(stated.schema.columns.map((c) => c.name)).toEqual([...order, 'trips']);
    expect(stated.rows.map((r) => r['trips'])).toEqual(entities.rows.map(trips));
    // The same rows with the map built in another order: the same schema.
    const reversed: Table = { ...entities, columns: [...entities.columns].reverse() };
    const again = await collect(
      harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']), entityColumns: order }, reversed, 40)),
    );
    expect(again.schema.columns.map((c) => c.name)).toEqual([...order, 'trips']);
    // Without entity_columns: name order, not the map's (driver_id was put first).
    const byName = await collect(harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']) }, entities, 40)));
    expect(byName.schema.columns.map((c) => c.name)).toEqual(['amount', 'customer_id', 'driver_id', 'request_id', 'rider_id', 'trips']);
    expect(byName.rows).toEqual(stated.rows);
  });

  it('inline rows: an entity_columns list that does not match the batch is INVALID_ARGUMENT naming it', async () => {
    const missing = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeatures(
          inlineRequests({ kind: features(['driver_stats:trips']), entityColumns: ['driver_id', 'customer_id'] }, entities),
        ),
      ),
    );
    expect(missing.code).toBe(Code.INVALID_ARGUMENT);
    expect(missing.message).toMatch(/^query\.entity_columns: lists 2 of the entity batch's 5 columns; add "rider_id", "request_id", "amount"/);
    const unknown = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']), entityColumns: ['driver_id', 'driver '] }, entities)),
      ),
    );
    expect(unknown.code).toBe(Code.INVALID_ARGUMENT);
    expect(unknown.message).toContain('query.entity_columns[1]: "driver " is not a column of the first entity batch');
  });

  it('entity rows from a source come back in the order of the order column, whatever their storage order', async () => {
    const result = await collect(
      harness.retrieval.getHistoricalFeaturesFromSource({ query: { kind: features(['driver_stats:trips']) }, entitySource: source('seq') }),
    );
    expect(result.rows.map((r) => r['seq'])).toEqual(entities.rows.map((_, i) => BigInt(i)));
    expect(result.rows.map((r) => r['trips'])).toEqual(entities.rows.map(trips));
    // The data is stored out of order, so reading it as stored would not pass the above.
    expect(shuffled.rows.map((r) => r['seq'])).not.toEqual(entities.rows.map((_, i) => BigInt(i)));
    const missing = await rpcError(() =>
      collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: { kind: features(['driver_stats:trips']) }, entitySource: source('sequence') })),
    );
    expect(missing.code).toBe(Code.INVALID_ARGUMENT);
    expect(missing.message).toContain('has no column "sequence" (order column)');
  });

  if (name !== 'duckdb') {
    it('a table written gets a row-index column: the row order of the output, from a source or inline', async () => {
      const storage = engine.destination('ordered_set');
      const written = await collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { kind: features(['driver_stats:trips']), destination: { storage, omitRows: true } },
          entitySource: source('seq'),
        }),
      );
      expect(written.summary.rowIndexColumn).toBe('row_index');
      const rows = await engine.readBack(storage);
      expect(rows).toHaveLength(entities.rows.length);
      const byIndex = [...rows].sort((a, b) => Number(a['row_index']) - Number(b['row_index']));
      expect(byIndex.map((r) => Number(r['row_index']))).toEqual(entities.rows.map((_, i) => i));
      expect(byIndex.map((r) => String(r['seq']))).toEqual(entities.rows.map((_, i) => String(i)));

      const inline = engine.destination('inline_ordered');
      await collect(
        harness.retrieval.getHistoricalFeatures(
          inlineRequests(
            { kind: features(['driver_stats:trips']), destination: { storage: inline, omitRows: true, rowIndexColumn: 'position' } },
            entities,
            33,
          ),
        ),
      );
      const inlineRows = (await engine.readBack(inline)).sort((a, b) => Number(a['position']) - Number(b['position']));
      expect(inlineRows.map((r) => r['request_id'])).toEqual(entities.rows.map((r) => r['request_id']));

      const clash = await rpcError(() =>
        collect(
          harness.retrieval.getHistoricalFeaturesFromSource({
            query: { kind: features(['driver_stats:trips']), destination: { storage: engine.destination('clash'), omitRows: true, rowIndexColumn: 'seq' } },
            entitySource: source('seq'),
          }),
        ),
      );
      expect(clash.code).toBe(Code.INVALID_ARGUMENT);
      expect(clash.message).toContain('"seq" is also an output column');
    });
  }

  it('column names in "has no column" messages are quoted, so a stray space shows', async () => {
    const padded: Table = {
      ...entities,
      columns: entities.columns.map((c) => (c.name === 'driver_id' ? { ...c, name: 'driver_id ' } : c)),
      rows: entities.rows.map((r) => ({ ...r, 'driver_id ': r['driver_id'] ?? null })),
    };
    const error = await rpcError(() => collect(harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']) }, padded))));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toContain(
      'the entity rows has no column "driver_id" (join key \'driver_id\' of view \'driver_stats\'); its columns are: "amount", "customer_id", "driver_id ", ',
    );
  });
});

describe('BigQuery as a user meets it', () => {
  let engine: TestEngine;
  let harness: Harness;
  let table: (name: string) => string;
  let repo: registryV1.ApplyRegistryRequest;

  beforeAll(async () => {
    engine = await bigqueryTestEngine();
    const kinds = {
      driver: await engine.load(data.tables.driver),
      customer: await engine.load(data.tables.customer),
      pair: await engine.load(data.tables.pair),
      global: await engine.load(data.tables.global),
    };
    const dataset = engine.env['LARDER_BIGQUERY_DATASET']!;
    const project = engine.env['LARDER_BIGQUERY_PROJECT']!;
    table = (name) => `${project}.${dataset}.${name}`;
    // driver_stats reads a table that is not there.
    const gone = { case: 'bigquery', value: { location: { case: 'table', value: table('driver_stats_gone') } } } as SourceKind;
    harness = await startHarness(engine.env, (p) => (repo = featureRepo(p, { ...kinds, driver: gone })));
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    await engine?.cleanup();
  });

  const fromTable = (name: string): offlineV1.EntitySource =>
    create(offlineV1.EntitySourceSchema, { location: { case: 'bigquery', value: { location: { case: 'table', value: table(name) } } } });

  it('a source table that does not exist is NOT_FOUND naming the source and the table', async () => {
    const error = await rpcError(() => collect(harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['driver_stats:trips']) }, entities))));
    expect(error.code).toBe(Code.NOT_FOUND);
    expect(error.message).toContain(`source 'driver_src' (table ${table('driver_stats_gone')})`);
    expect(error.message).toContain('was not found');
    expect(repo.dataSources.length).toBeGreaterThan(0);
  });

  it('an entity table that does not exist is NOT_FOUND; an entity query from the client is INVALID_ARGUMENT and never runs', async () => {
    const missing = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { kind: features(['customer_profile:segment']) },
          entitySource: fromTable('no_such_entities'),
        }),
      ),
    );
    expect(missing.code).toBe(Code.NOT_FOUND);
    expect(missing.message).toContain(`entity source table ${table('no_such_entities')}`);
    // Run, this would create a table: afterwards it must not exist.
    const sideEffect = table('made_by_client_sql');
    const query = create(offlineV1.EntitySourceSchema, {
      location: { case: 'bigquery', value: { location: { case: 'query', value: `CREATE TABLE \`${sideEffect}\` AS SELECT 1 AS x; SELECT 1` } } },
    });
    const refused = await rpcError(() =>
      collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: { kind: features(['customer_profile:segment']) }, entitySource: query })),
    );
    expect(refused.code).toBe(Code.INVALID_ARGUMENT);
    expect(refused.message).toMatch(/^entity_source\.bigquery\.query: SQL from a client is not run/);
    const [datasetId, tableId] = sideEffect.split('.').slice(-2) as [string, string];
    const bigquery = new BigQuery({ apiEndpoint: engine.env['LARDER_BIGQUERY_API_ENDPOINT']!, projectId: engine.env['LARDER_BIGQUERY_PROJECT']! });
    const [exists] = await bigquery.dataset(datasetId).table(tableId).exists();
    expect(exists).toBe(false);
    const badName = await rpcError(() =>
      collect(
        harness.retrieval.getHistoricalFeaturesFromSource({
          query: { kind: features(['customer_profile:segment']) },
          entitySource: fromTable('a`; DROP TABLE x; --'),
        }),
      ),
    );
    expect(badName.code).toBe(Code.INVALID_ARGUMENT);
    expect(badName.message).toMatch(/^entity_source\.bigquery\.table: /);
  });

  it('inline rows sent a few at a time are staged in one insert per group, not one per batch', async () => {
    const insert = jest.spyOn(BigQueryTable.prototype, 'insert');
    try {
      const many: Table = {
        ...entities,
        rows: Array.from({ length: 5 }, () => entities.rows)
          .flat()
          .slice(0, 700),
      };
      const result = await collect(harness.retrieval.getHistoricalFeatures(inlineRequests({ kind: features(['customer_profile:segment']) }, many, 7)));
      expect(result.rows).toHaveLength(700);
      expect(result.rows.map((r) => r['segment'])).toEqual(many.rows.map((e) => featureAt(views.customer_profile, e, 'seg')));
      // 100 client batches of 7 rows: one streaming insert.
      expect(insert).toHaveBeenCalledTimes(1);
    } finally {
      insert.mockRestore();
    }
  });
});
