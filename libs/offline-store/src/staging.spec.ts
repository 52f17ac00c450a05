// Engine-independent pieces of the order and staging contract: inline rows regrouped
// whatever the batch sizes, BigQuery's error reasons as EngineError failures, and the
// row index of a DuckDB table output.
import { typesV1 } from '@larder/proto';
import { bigqueryError } from './bigquery-store';
import { DuckDBOfflineStore } from './duckdb-store';
import { EngineError } from './errors';
import { entityRowGroups } from './shared';
import type { Cell, EntityBatch, InlineEntities } from './types';

const { ValueType } = typesV1;

describe('entityRowGroups', () => {
  const columns = [
    { name: 'id', type: ValueType.INT64 },
    { name: 'event_timestamp', type: ValueType.UNIX_TIMESTAMP },
  ];
  const batches = (sizes: number[]): EntityBatch[] => {
    let next = 0;
    return sizes.map((n) => {
      const ids = Array.from({ length: n }, () => BigInt(next++));
      return { id: ids, event_timestamp: ids.map((id) => new Date(Number(id) * 1000)) };
    });
  };
  const groups = async (sizes: number[], groupRows: number) => {
    const entities: InlineEntities = { kind: 'rows', columns, timestampColumn: 'event_timestamp', batches: batches(sizes) };
    const out: { rows: number; ids: Cell[] }[] = [];
    for await (const group of entityRowGroups(entities, groupRows)) out.push({ rows: group.rows, ids: group.columns[0]! });
    return out;
  };

  it('fills each group from as many small batches as it takes, in order', async () => {
    const out = await groups(
      Array.from({ length: 100 }, () => 7),
      300,
    );
    expect(out.map((g) => g.rows)).toEqual([300, 300, 100]);
    expect(out.flatMap((g) => g.ids)).toEqual(Array.from({ length: 700 }, (_, i) => BigInt(i)));
  });

  it('splits a batch larger than a group, and mixes sizes', async () => {
    const out = await groups([5, 1000, 3, 0, 250], 400);
    expect(out.map((g) => g.rows)).toEqual([400, 400, 400, 58]);
    expect(out.flatMap((g) => g.ids)).toEqual(Array.from({ length: 1258 }, (_, i) => BigInt(i)));
  });

  it('names a ragged batch by its index and column', async () => {
    const entities: InlineEntities = {
      kind: 'rows',
      columns,
      timestampColumn: 'event_timestamp',
      batches: [...batches([3]), { id: [1n, 2n], event_timestamp: [new Date(0)] }],
    };
    await expect(async () => {
      for await (const group of entityRowGroups(entities, 10)) void group;
    }).rejects.toThrow('entity batch 1.event_timestamp: expected 2 values');
  });
});

describe('bigqueryError', () => {
  const api = (reason: string, code: number, message: string) => Object.assign(new Error(message), { code, errors: [{ reason, message }] });

  it.each([
    ['notFound', 404, 'not_found'],
    ['invalidQuery', 400, 'invalid'],
    ['accessDenied', 403, 'denied'],
    ['quotaExceeded', 403, 'exhausted'],
    ['rateLimitExceeded', 403, 'exhausted'],
    ['backendError', 503, 'unavailable'],
  ])('%s (HTTP %i) becomes %s, naming the relation, first line only', (reason, code, failure) => {
    const mapped = bigqueryError(
      api(reason, code, `Query execution failed: something about t\nLINE 1: SELECT * FROM secret_sql`),
      "source 'drivers' (table p.d.t)",
    );
    expect(mapped).toBeInstanceOf(EngineError);
    expect((mapped as EngineError).failure).toBe(failure);
    expect((mapped as EngineError).message).toBe("source 'drivers' (table p.d.t): something about t");
  });

  it('leaves other errors as they were', () => {
    const plain = new TypeError('a bug of ours');
    expect(bigqueryError(plain, 'x')).toBe(plain);
  });
});

describe('DuckDB table output', () => {
  it("gets the row index first, numbering the rows in the order column's order", async () => {
    const store = await DuckDBOfflineStore.create();
    try {
      await store.run(
        `CREATE TABLE stats AS SELECT * FROM (VALUES (1::BIGINT, TIMESTAMP '2024-01-01 00:00:00', 10::BIGINT), (2, TIMESTAMP '2024-01-01 00:00:00', 20)) t(id, ts, trips)`,
      );
      await store.run(
        `CREATE TABLE entities AS SELECT * FROM (VALUES ('b', 2::BIGINT, TIMESTAMP '2024-01-02 00:00:00'), ('c', 1, ` +
          `TIMESTAMP '2024-01-02 00:00:00'), ('a', 1, TIMESTAMP '2024-01-02 00:00:00')) t(name, id, event_timestamp)`,
      );
      const exported = await store.exportHistoricalFeatures(
        {
          entities: { kind: 'source', location: { kind: 'table', table: 'entities' }, orderColumn: 'name' },
          views: [
            {
              name: 'stats',
              source: { name: 'stats', location: { kind: 'table', table: 'stats' }, timestampField: 'ts' },
              joinKeys: [{ name: 'id', type: ValueType.INT64 }],
              features: [{ name: 'trips', type: ValueType.INT64 }],
            },
          ],
        },
        { kind: 'table', table: 'training' },
      );
      expect(exported.rowIndexColumn).toBe('row_index');
      const columns = (await store.run(`DESCRIBE training`)).map((c) => c['column_name']);
      expect(columns[0]).toBe('row_index');
      expect(await store.run(`SELECT row_index, name, trips FROM training ORDER BY row_index`)).toEqual([
        { row_index: 0n, name: 'a', trips: 10n },
        { row_index: 1n, name: 'b', trips: 20n },
        { row_index: 2n, name: 'c', trips: 10n },
      ]);
    } finally {
      await store.close();
    }
  });
});
