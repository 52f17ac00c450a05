// A hand-written encoder for GetOnlineFeaturesResponse, the one message on
// the serving hot path. protobuf-es's reflective toBinary spends most of a
// 100 x 50 request walking descriptors for 5,000 Values and 5,000
// Timestamps; this walks the known shape instead: one pass to size every
// message, one pass to write into a buffer of exactly that size. Its output
// is byte-identical to toBinary's (the spec checks that), so clients see no
// difference. The Value and Timestamp wire code is @larder/proto's `wire`.
import { wire } from '@larder/proto';
import type { servingV1 } from '@larder/proto';

type Vector = servingV1.GetOnlineFeaturesResponse_FeatureVector;

const { Writer, int32Size, lengthDelimitedSize, timestampSize, valueSize, writeTimestamp, writeValue } = wire;

function vectorSize(vector: Vector): number {
  let size = 0;
  for (const value of vector.values) size += lengthDelimitedSize(1, valueSize(value));
  if (vector.statuses.length > 0) {
    let packed = 0;
    for (const status of vector.statuses) packed += int32Size(status);
    size += lengthDelimitedSize(2, packed);
  }
  for (const ts of vector.eventTimestamps) size += lengthDelimitedSize(3, timestampSize(ts));
  return size;
}

function featureNamesSize(names: readonly string[]): number {
  let size = 0;
  for (const name of names) size += lengthDelimitedSize(1, Buffer.byteLength(name));
  return size;
}

/**
 * The feature names' FeatureList payload, kept per names array when that array is frozen.
 * Serving hands every response of a plan the plan's own frozen outputNames, so the names
 * (51 strings for a 1 x 50 read, each a native UTF-8 write) are encoded once per plan
 * instead of once per call. A frozen array cannot change under its cached bytes; any
 * other array is encoded every time.
 */
const encodedNames = new WeakMap<readonly string[], Buffer>();

function namesPayload(names: readonly string[]): Buffer {
  let payload = encodedNames.get(names);
  if (payload === undefined) {
    const w = new Writer(featureNamesSize(names));
    for (const name of names) w.string(1, name);
    payload = w.buf;
    if (Object.isFrozen(names)) encodedNames.set(names, payload);
  }
  return payload;
}

function writeVector(w: wire.Writer, vector: Vector): void {
  for (const value of vector.values) {
    w.header(1, valueSize(value));
    writeValue(w, value);
  }
  if (vector.statuses.length > 0) {
    let packed = 0;
    for (const status of vector.statuses) packed += int32Size(status);
    w.header(2, packed);
    for (const status of vector.statuses) w.int32(status);
  }
  for (const ts of vector.eventTimestamps) {
    w.header(3, timestampSize(ts));
    writeTimestamp(w, ts);
  }
}

/** The wire bytes of a GetOnlineFeaturesResponse, as toBinary would write them. */
export function encodeGetOnlineFeaturesResponse(response: servingV1.GetOnlineFeaturesResponse): Uint8Array {
  const names = response.metadata?.featureNames?.val;
  const payload = names === undefined ? undefined : namesPayload(names);
  const namesSize = payload === undefined ? 0 : payload.length;
  const metadataSize = response.metadata === undefined ? 0 : response.metadata.featureNames === undefined ? 0 : lengthDelimitedSize(1, namesSize);
  const vectorSizes = response.results.map(vectorSize);

  let total = response.metadata === undefined ? 0 : lengthDelimitedSize(1, metadataSize);
  for (const size of vectorSizes) total += lengthDelimitedSize(2, size);

  const w = new Writer(total);
  if (response.metadata !== undefined) {
    w.header(1, metadataSize);
    if (payload !== undefined) w.bytes(1, payload);
  }
  response.results.forEach((vector, i) => {
    w.header(2, vectorSizes[i] as number);
    writeVector(w, vector);
  });
  return w.buf;
}
