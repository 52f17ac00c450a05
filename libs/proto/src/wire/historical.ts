// GetHistoricalFeaturesResponse and GetHistoricalFeaturesFromSourceResponse on the
// wire. A training set streamed back is millions of rows x dozens of Values, which
// protobuf-es's reflective toBinary and fromBinary walk at tens of thousands of rows
// a second; these walk the known shape of the `chunk` part instead. Both responses
// share one layout (oneof part: schema = 1, chunk = 2, summary = 3). The rare other
// parts, and anything unexpected on the way in, go through protobuf-es.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { GetHistoricalFeaturesFromSourceResponseSchema, GetHistoricalFeaturesResponseSchema } from '../gen/larder/offline/v1/offline_retrieval_service_pb';
import type {
  GetHistoricalFeaturesFromSourceResponse,
  GetHistoricalFeaturesResponse,
  ResultChunk,
} from '../gen/larder/offline/v1/offline_retrieval_service_pb';
import type { RepeatedValue } from '../gen/larder/types/v1/value_pb';
import { Reader, Unexpected } from './reader';
import { readRepeatedValue } from './value-reader';
import {
  WIRE_LENGTH,
  WIRE_VARINT,
  Writer,
  int64Size,
  lengthDelimitedSize,
  repeatedValueSize,
  timestampsSize,
  varintSize,
  writeRepeatedValue,
  writeTimestamps,
} from './encode';

type HistoricalResponse = GetHistoricalFeaturesResponse | GetHistoricalFeaturesFromSourceResponse;

const CHUNK_FIELD = 2;

function resultChunkSize(chunk: ResultChunk, sizes: Uint32Array, columnSizes: number[]): number {
  let size = chunk.firstRow !== 0n ? 1 + int64Size(chunk.firstRow) : 0;
  let offset = 0;
  for (const column of chunk.columns) {
    const s = repeatedValueSize(column.val, sizes, offset);
    offset += column.val.length;
    columnSizes.push(s);
    size += 1 + varintSize(s) + s;
  }
  return size + timestampsSize(3, chunk.eventTimestamps);
}

function writeResultChunk(w: Writer, chunk: ResultChunk, sizes: Uint32Array, columnSizes: readonly number[]): void {
  if (chunk.firstRow !== 0n) {
    w.tag(1, WIRE_VARINT);
    w.int64(chunk.firstRow);
  }
  let offset = 0;
  chunk.columns.forEach((column, c) => {
    w.header(2, columnSizes[c] as number);
    writeRepeatedValue(w, column.val, sizes, offset);
    offset += column.val.length;
  });
  writeTimestamps(w, 3, chunk.eventTimestamps);
}

const hasUnknown = (message: object): boolean => {
  const unknown = (message as { $unknown?: unknown[] }).$unknown;
  return unknown !== undefined && unknown.length > 0;
};

/** The wire bytes of either historical response, exactly as toBinary would write them. */
export function encodeHistoricalResponse(response: HistoricalResponse): Uint8Array {
  const part = response.part;
  if (part.case !== 'chunk' || hasUnknown(response) || hasUnknown(part.value) || part.value.columns.some(hasUnknown)) {
    return response.$typeName === GetHistoricalFeaturesResponseSchema.typeName
      ? toBinary(GetHistoricalFeaturesResponseSchema, response as GetHistoricalFeaturesResponse)
      : toBinary(GetHistoricalFeaturesFromSourceResponseSchema, response as GetHistoricalFeaturesFromSourceResponse);
  }
  const chunk = part.value;
  let values = 0;
  for (const column of chunk.columns) values += column.val.length;
  const sizes = new Uint32Array(values);
  const columnSizes: number[] = [];
  const chunkSize = resultChunkSize(chunk, sizes, columnSizes);
  const w = new Writer(lengthDelimitedSize(CHUNK_FIELD, chunkSize));
  w.header(CHUNK_FIELD, chunkSize);
  writeResultChunk(w, chunk, sizes, columnSizes);
  return w.finish();
}

function readTimestamp(r: Reader, end: number): Timestamp {
  let seconds = 0n;
  let nanos = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_VARINT)) seconds = r.int64();
    else if (tag === ((2 << 3) | WIRE_VARINT)) nanos = r.int32();
    else throw new Unexpected('Timestamp field');
  }
  if (r.pos !== end) throw new Unexpected('Timestamp overran');
  return { $typeName: 'google.protobuf.Timestamp', seconds, nanos } as Timestamp;
}

function readResultChunk(r: Reader, end: number): ResultChunk {
  let firstRow = 0n;
  const columns: RepeatedValue[] = [];
  const eventTimestamps: Timestamp[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | WIRE_VARINT)) firstRow = r.int64();
    else if (tag === ((2 << 3) | WIRE_LENGTH)) columns.push(readRepeatedValue(r, r.end()));
    else if (tag === ((3 << 3) | WIRE_LENGTH)) eventTimestamps.push(readTimestamp(r, r.end()));
    else throw new Unexpected('ResultChunk field');
  }
  if (r.pos !== end) throw new Unexpected('ResultChunk overran');
  return { $typeName: 'larder.offline.v1.ResultChunk', firstRow, columns, eventTimestamps } as ResultChunk;
}

function decodeChunk(bytes: Uint8Array, typeName: string): HistoricalResponse | undefined {
  try {
    const r = new Reader(bytes);
    if (r.uint32() !== ((CHUNK_FIELD << 3) | WIRE_LENGTH)) return undefined;
    const end = r.end();
    // A message of exactly one chunk field; anything after it (a merge, another part) is left to protobuf-es.
    if (end !== bytes.length) return undefined;
    const chunk = readResultChunk(r, end);
    return { $typeName: typeName, part: { case: 'chunk', value: chunk } } as HistoricalResponse;
  } catch (error) {
    if (error instanceof Unexpected) return undefined;
    throw error;
  }
}

/** What fromBinary(GetHistoricalFeaturesResponseSchema, bytes) returns, built without reflection for chunks. */
export function decodeGetHistoricalFeaturesResponse(bytes: Uint8Array): GetHistoricalFeaturesResponse {
  return (
    (decodeChunk(bytes, GetHistoricalFeaturesResponseSchema.typeName) as GetHistoricalFeaturesResponse | undefined) ??
    fromBinary(GetHistoricalFeaturesResponseSchema, bytes)
  );
}

/** What fromBinary(GetHistoricalFeaturesFromSourceResponseSchema, bytes) returns, built without reflection for chunks. */
export function decodeGetHistoricalFeaturesFromSourceResponse(bytes: Uint8Array): GetHistoricalFeaturesFromSourceResponse {
  return (
    (decodeChunk(bytes, GetHistoricalFeaturesFromSourceResponseSchema.typeName) as GetHistoricalFeaturesFromSourceResponse | undefined) ??
    fromBinary(GetHistoricalFeaturesFromSourceResponseSchema, bytes)
  );
}
