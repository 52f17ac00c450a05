// The online response encoder against protobuf-es's reflective toBinary, in one process:
// the cost of writing a GetOnlineFeaturesResponse's bytes, nothing else (no gRPC, no
// Redis). The response is the online benchmark's shape: 5 views x 10 double features,
// every value PRESENT with its event time, for 1 and 100 entity rows (plus the join key
// column). Both must write the same bytes; the run checks that first. `ratio` is how
// many times faster the hand-written encoder is at that shape.
//   LARDER_BENCH_ENCODERS_SECONDS  measured seconds per case (default 2)
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { servingV1, typesV1 } from '@larder/proto';
import { encodeGetOnlineFeaturesResponse } from '@larder/online-serving-app';
import type { BenchRecord } from './table';

const SECONDS = Number(process.env['LARDER_BENCH_ENCODERS_SECONDS'] ?? 2);
const FEATURES = 50;

function response(entities: number): servingV1.GetOnlineFeaturesResponse {
  const eventTime = timestampFromMs(Date.UTC(2026, 0, 1, 12));
  const joinKey = create(servingV1.GetOnlineFeaturesResponse_FeatureVectorSchema, {
    values: Array.from({ length: entities }, (_, i) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(1000 + i) } })),
    statuses: Array.from({ length: entities }, () => typesV1.FieldStatus.PRESENT),
    eventTimestamps: [],
  });
  const features = Array.from({ length: FEATURES }, (_, f) =>
    create(servingV1.GetOnlineFeaturesResponse_FeatureVectorSchema, {
      values: Array.from({ length: entities }, (_, i) => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: i + f / 100 } })),
      statuses: Array.from({ length: entities }, () => typesV1.FieldStatus.PRESENT),
      eventTimestamps: Array.from({ length: entities }, () => eventTime),
    }),
  );
  const names = ['driver_id', ...Array.from({ length: FEATURES }, (_, f) => `view_${Math.floor(f / 10)}__f${f % 10}`)];
  return create(servingV1.GetOnlineFeaturesResponseSchema, { metadata: { featureNames: { val: names } }, results: [joinKey, ...features] });
}

/** Encodes for SECONDS after a warm-up; per-encode percentiles from batches of `batch` calls. */
function measure(encode: () => Uint8Array, batch: number): { p50_ms: number; p99_ms: number; rps: number } {
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) encode();
  const samples: number[] = [];
  let calls = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) encode();
    samples.push((performance.now() - t) / batch);
    calls += batch;
  }
  const elapsed = (performance.now() - start) / 1000;
  samples.sort((a, b) => a - b);
  const at = (q: number) => Number((samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number).toFixed(4));
  return { p50_ms: at(0.5), p99_ms: at(0.99), rps: Math.round(calls / elapsed) };
}

export async function runEncodersBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const entities of [1, 100]) {
    const message = response(entities);
    const ours = encodeGetOnlineFeaturesResponse(message);
    const reference = toBinary(servingV1.GetOnlineFeaturesResponseSchema, message);
    if (!Buffer.from(ours).equals(Buffer.from(reference))) throw new Error(`${entities}x${FEATURES}: the encoders wrote different bytes`);
    const batch = entities === 1 ? 100 : 2;
    const handWritten = measure(() => encodeGetOnlineFeaturesResponse(message), batch);
    const reflective = measure(() => toBinary(servingV1.GetOnlineFeaturesResponseSchema, message), batch);
    const workload = `${entities}x${FEATURES} response, ${ours.length} bytes`;
    records.push(
      { workload, encoder: 'hand-written', ...handWritten, ratio: Number((reflective.p50_ms / handWritten.p50_ms).toFixed(1)) },
      { workload, encoder: 'protobuf-es toBinary', ...reflective },
    );
  }
  return records;
}
