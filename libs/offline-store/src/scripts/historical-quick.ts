// A quick measurement, not the benchmark: N entity rows x V views of M rows on
// DuckDB, through DuckDBOfflineStore (export to Parquet, and streamed into
// Node), next to the raw ASOF join on the same files as the floor.
//   npx tsx libs/offline-store/src/scripts/historical-quick.ts [entities=1000000] [views=3] [rowsPerView=5000000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { typesV1 } from '@larder/proto';
import { DuckDBOfflineStore } from '../duckdb-store';
import type { HistoricalView } from '../types';

const { ValueType } = typesV1;

async function main(): Promise<void> {
  const [entities = 1_000_000, views = 3, rowsPerView = 5_000_000] = process.argv.slice(2).map(Number);
  const keys = Math.max(1, Math.floor(entities / 2));
  const dir = mkdtempSync(join(tmpdir(), 'larder-hist-bench-'));
  const store = await DuckDBOfflineStore.create();
  const t0 = Date.UTC(2024, 0, 1) / 1000;
  const span = 30 * 86400;
  const time = async <T>(label: string, fn: () => Promise<T>): Promise<number> => {
    const start = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`${label.padEnd(58)} ${s.toFixed(2)} s`);
    return s;
  };
  try {
    await time(`generate ${entities} entity rows`, () =>
      store.run(
        `COPY (SELECT (hash(i) % ${keys})::BIGINT AS driver_id, to_timestamp(${t0} + (hash(i * 7) % ` +
          `${span})::BIGINT)::TIMESTAMP AS event_timestamp, i AS request_id FROM range(${entities}) t(i)) TO ` +
          `'${dir}/entities.parquet' (FORMAT parquet)`,
      ),
    );
    for (let v = 0; v < views; v++) {
      await time(`generate view ${v}: ${rowsPerView} rows`, () =>
        store.run(
          `COPY (SELECT (hash(i + ${v}) % ${keys})::BIGINT AS driver_id, to_timestamp(${t0} - 86400 + (hash(i * 13 + ${v}) % (${span} + 86400))::BIGINT)::TIMESTAMP AS event_ts, ` +
            `to_timestamp(${t0} + (hash(i * 17 + ${v}) % ${span * 2})::BIGINT)::TIMESTAMP AS created_ts, ` +
            `(hash(i * 3) % 1000) / 1000.0 AS f_a_${v}, (hash(i * 5) % 100)::BIGINT AS f_b_${v}, (hash(i * 11) % ` +
            `7)::DOUBLE AS f_c_${v} FROM range(${rowsPerView}) t(i)) TO '${dir}/view_${v}.parquet' (FORMAT parquet)`,
        ),
      );
    }
    const requestViews: HistoricalView[] = Array.from({ length: views }, (_, v) => ({
      name: `view_${v}`,
      source: {
        name: `view_${v}`,
        location: { kind: 'file', path: `${dir}/view_${v}.parquet` },
        timestampField: 'event_ts',
        createdTimestampColumn: 'created_ts',
      },
      joinKeys: [{ name: 'driver_id', type: ValueType.INT64 }],
      features: ['a', 'b', 'c'].map((f) => ({ name: `f_${f}_${v}`, type: f === 'b' ? ValueType.INT64 : ValueType.DOUBLE })),
      ttlMs: 7 * 86400_000,
    }));
    const entitiesSource = {
      kind: 'source' as const,
      location: { kind: 'file' as const, path: `${dir}/entities.parquet` },
      timestampColumn: 'event_timestamp',
    };

    const floor = await time(`raw ASOF join (no dedup, no ttl), COPY to Parquet [floor]`, () => {
      const joins = requestViews
        .map((_, v) => `ASOF LEFT JOIN read_parquet('${dir}/view_${v}.parquet') v${v} ON e.driver_id = v${v}.driver_id AND e.event_timestamp >= v${v}.event_ts`)
        .join(' ');
      const cols = requestViews.map((_, v) => `v${v}.f_a_${v}, v${v}.f_b_${v}, v${v}.f_c_${v}`).join(', ');
      return store.run(`COPY (SELECT e.*, ${cols} FROM read_parquet('${dir}/entities.parquet') e ${joins}) TO '${dir}/floor.parquet' (FORMAT parquet)`);
    });
    const exported = await time(`exportHistoricalFeatures -> Parquet (dedup, ttl, order)`, () =>
      store.exportHistoricalFeatures({ entities: entitiesSource, views: requestViews }, { kind: 'file', path: `${dir}/out.parquet` }),
    );
    let rows = 0;
    const streamed = await time(`getHistoricalFeatures streamed into Node (10k-row chunks)`, async () => {
      const result = await store.getHistoricalFeatures({ entities: entitiesSource, views: requestViews });
      for await (const chunk of result) rows += chunk.rowCount;
    });
    const check = await store.run(`SELECT count(*) AS n FROM read_parquet('${dir}/out.parquet')`);
    console.log(
      JSON.stringify({
        entities,
        views,
        rowsPerView,
        floor_s: floor,
        export_s: exported,
        stream_s: streamed,
        streamed_rows: rows,
        exported_rows: Number(check[0]!['n']),
      }),
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
