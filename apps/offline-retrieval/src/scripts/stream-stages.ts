// A quick measurement, not the benchmark: where the Node time of streaming result
// rows back goes, on synthetic store chunks shaped like the benchmark's (a join key,
// 3 features x V views, entity timestamps), without DuckDB or sockets.
//   npx tsx apps/offline-retrieval/src/scripts/stream-stages.ts [rows=200000] [views=3]
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { ResultChunk as StoreChunk, ResultSchema as StoreSchema } from '@larder/offline-store';
import { offlineV1, typesV1, wire } from '@larder/proto';
import { encodeChunk, outputLayout } from '../output';
import type { RetrievalPlan } from '../plan';

const T = typesV1.ValueType;

function main(): void {
  const [rows = 200_000, views = 3] = process.argv.slice(2).map(Number);
  const chunkRows = 10_000;
  const schema: StoreSchema = {
    timestampColumn: 'event_timestamp',
    columns: [
      { name: 'driver_id', type: T.INT64, role: 'join_key' },
      { name: 'event_timestamp', type: T.UNIX_TIMESTAMP, role: 'timestamp' },
      ...Array.from({ length: views }, (_, v) => [
        { name: `a_${v}`, type: T.DOUBLE, role: 'feature' as const },
        { name: `b_${v}`, type: T.INT64, role: 'feature' as const },
        { name: `c_${v}`, type: T.DOUBLE, role: 'feature' as const },
      ]).flat(),
    ],
  } as StoreSchema;
  const plan = {
    hasOnDemand: false,
    outputs: schema.columns.filter((c) => c.role === 'feature').map((c) => ({ kind: 'view', name: c.name, valueType: c.type, storeColumn: c.name })),
  } as unknown as RetrievalPlan;
  const layout = outputLayout(plan, schema);
  const chunks: StoreChunk[] = [];
  for (let first = 0; first < rows; first += chunkRows) {
    const n = Math.min(chunkRows, rows - first);
    const columns = schema.columns.map((c) =>
      Array.from({ length: n }, (_, i) => {
        const r = first + i;
        if (c.role === 'timestamp') return new Date(1_700_000_000_000 + r * 1000);
        if (c.type === T.INT64) return BigInt(r % 500_000);
        return r % 13 === 0 ? null : (r % 1000) / 1000;
      }),
    );
    chunks.push({ firstRow: first, rowCount: n, columns } as StoreChunk);
  }
  const cpu = (label: string, fn: () => void): void => {
    const start = process.cpuUsage();
    const wall = process.hrtime.bigint();
    fn();
    const used = process.cpuUsage(start);
    const s = (used.user + used.system) / 1e6;
    console.log(
      `${label.padEnd(40)} cpu ${s.toFixed(2)} s  wall ${(Number(process.hrtime.bigint() - wall) / 1e9).toFixed(2)} s  ${Math.round(rows / s)} rows/s`,
    );
  };
  const messages: offlineV1.GetHistoricalFeaturesResponse[] = [];
  cpu('cells -> ResultChunk (encodeChunk)', () => {
    for (const chunk of chunks)
      for (const out of encodeChunk(plan, layout, schema, chunk, chunkRows, 4 << 20))
        messages.push({
          $typeName: 'larder.offline.v1.GetHistoricalFeaturesResponse',
          part: { case: 'chunk', value: out },
        } as offlineV1.GetHistoricalFeaturesResponse);
  });
  const bytes: Uint8Array[] = [];
  cpu('toBinary (protobuf-es)', () => {
    for (const m of messages) bytes.push(toBinary(offlineV1.GetHistoricalFeaturesResponseSchema, m));
  });
  console.log(`  ${bytes.length} messages, ${(bytes.reduce((n, b) => n + b.length, 0) / rows).toFixed(1)} bytes/row`);
  cpu('wire.encodeHistoricalResponse', () => {
    for (const m of messages) wire.encodeHistoricalResponse(m);
  });
  cpu('fromBinary (client decode)', () => {
    for (const b of bytes) fromBinary(offlineV1.GetHistoricalFeaturesResponseSchema, b);
  });
  cpu('wire.decodeGetHistoricalFeaturesResponse', () => {
    for (const b of bytes) wire.decodeGetHistoricalFeaturesResponse(b);
  });
}

main();
