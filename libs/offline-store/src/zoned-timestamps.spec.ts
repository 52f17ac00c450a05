// DuckDB compares zoned (TIMESTAMPTZ) source and entity times as plain UTC TIMESTAMPs
// through their epoch microseconds (no per-value ICU calendar, the cost that made the
// cast two thirds of a join over pandas-written files); these are the values where a
// shortcut could differ from the instant: microsecond ties, created-time ties and the
// infinities, which keep the cast.
import { typesV1 } from '@larder/proto';
import { DuckDBOfflineStore } from './duckdb-store';

const { ValueType } = typesV1;

describe('zoned timestamps in a DuckDB point-in-time join', () => {
  let store: DuckDBOfflineStore;

  beforeAll(async () => {
    store = await DuckDBOfflineStore.create();
    // Written with a +05:30 offset: the instants, not the wall-clock text, must be compared.
    await store.run(
      `CREATE TABLE stats AS SELECT id, ts::TIMESTAMPTZ AS ts, cr::TIMESTAMPTZ AS cr, trips FROM (VALUES
        (1::BIGINT, '2024-01-01 17:30:00.000001+05:30', '2024-01-01 17:30:00+05:30', 11::BIGINT),
        (1, '2024-01-01 17:30:00+05:30', '2024-01-01 17:30:00+05:30', 10),
        (2, '2024-01-01 17:00:00+05:30', '2024-01-02 00:00:00.000001+00', 21),
        (2, '2024-01-01 17:00:00+05:30', '2024-01-02 00:00:00+00', 20),
        (3, '-infinity', NULL, 30),
        (3, 'infinity', NULL, 31),
        (4, '-infinity', NULL, 40),
        (4, '2024-01-01 11:00:00+00', NULL, 41)) t(id, ts, cr, trips)`,
    );
    await store.run(
      `CREATE TABLE entities AS SELECT id, event_timestamp::TIMESTAMPTZ AS event_timestamp FROM (VALUES
        (1::BIGINT, '2024-01-01 12:00:00+00'), (2, '2024-01-01 12:00:00+00'), (3, '2024-01-01 12:00:00+00'), (4, '2024-01-01 12:00:00+00')) t(id, event_timestamp)`,
    );
  });

  afterAll(async () => {
    await store?.close();
  });

  it('picks by instant to the microsecond, breaks ties by created time, and keeps the infinities ordered', async () => {
    await store.exportHistoricalFeatures(
      {
        entities: { kind: 'source', location: { kind: 'table', table: 'entities' } },
        views: [
          {
            name: 'stats',
            source: { name: 'stats', location: { kind: 'table', table: 'stats' }, timestampField: 'ts', createdTimestampColumn: 'cr' },
            joinKeys: [{ name: 'id', type: ValueType.INT64 }],
            features: [{ name: 'trips', type: ValueType.INT64 }],
          },
        ],
      },
      { kind: 'table', table: 'training' },
    );
    expect(await store.run(`SELECT id, trips FROM training ORDER BY row_index`)).toEqual([
      // 12:00:00.000001 UTC is a microsecond after the entity row: not yet known.
      { id: 1n, trips: 10n },
      // Same event time; created a microsecond later wins.
      { id: 2n, trips: 21n },
      // -infinity is before any time, +infinity after every one.
      { id: 3n, trips: 30n },
      { id: 4n, trips: 41n },
    ]);
  });
});
