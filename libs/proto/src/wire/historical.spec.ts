import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { EVERY_VALUE_CASE as values } from '@larder/testing';
import type { ValueInit } from '@larder/testing';
import { offlineV1, typesV1, wire } from '../index';

const timestamps = [timestampFromMs(1_700_000_000_123), { seconds: -5n, nanos: 0 }, {}, { seconds: 0n, nanos: 999_999_999 }, timestampFromMs(-1)];

function chunkResponse(firstRow: bigint, rows: number): offlineV1.GetHistoricalFeaturesResponse {
  // Every value in every column position, so each column mixes cases and nulls.
  const columns = values.map((_, c) => ({ val: Array.from({ length: rows }, (_, r) => values[(c + r) % values.length] as ValueInit) }));
  return create(offlineV1.GetHistoricalFeaturesResponseSchema, {
    part: {
      case: 'chunk',
      value: { firstRow, columns, eventTimestamps: Array.from({ length: rows }, (_, r) => timestamps[r % timestamps.length] as (typeof timestamps)[number]) },
    },
  });
}

function expectSameBytes(message: offlineV1.GetHistoricalFeaturesResponse | offlineV1.GetHistoricalFeaturesFromSourceResponse): Uint8Array {
  const reference =
    message.$typeName === offlineV1.GetHistoricalFeaturesResponseSchema.typeName
      ? toBinary(offlineV1.GetHistoricalFeaturesResponseSchema, message as offlineV1.GetHistoricalFeaturesResponse)
      : toBinary(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, message as offlineV1.GetHistoricalFeaturesFromSourceResponse);
  const ours = wire.encodeHistoricalResponse(message);
  expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true);
  return reference;
}

describe('encodeHistoricalResponse', () => {
  test('a chunk with every Value case, nulls and lists encodes exactly as protobuf-es does', () => {
    for (const [firstRow, rows] of [
      [0n, values.length * 2],
      [123_456_789_012n, 7],
      [1n, 1],
    ] as const) {
      const message = chunkResponse(firstRow, rows);
      const bytes = expectSameBytes(message);
      expect(fromBinary(offlineV1.GetHistoricalFeaturesResponseSchema, bytes)).toEqual(message);
    }
  });

  test('an empty chunk and a chunk with empty columns match too', () => {
    expectSameBytes(create(offlineV1.GetHistoricalFeaturesResponseSchema, { part: { case: 'chunk', value: {} } }));
    expectSameBytes(create(offlineV1.GetHistoricalFeaturesResponseSchema, { part: { case: 'chunk', value: { firstRow: 5n, columns: [{}, {}] } } }));
  });

  test('GetHistoricalFeaturesFromSourceResponse chunks, schema and summary parts match', () => {
    const chunk = chunkResponse(42n, 11).part.value as offlineV1.ResultChunk;
    expectSameBytes(create(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, { part: { case: 'chunk', value: chunk } }));
    const schema = {
      columns: [{ name: 'driver_id', valueType: typesV1.ValueType.INT64, role: offlineV1.ColumnRole.JOIN_KEY }],
      timestampColumn: 'event_timestamp',
    };
    const summary = { rowCount: 10n, elapsed: { seconds: 1n, nanos: 5 } };
    for (const part of [
      { case: 'schema', value: schema },
      { case: 'summary', value: summary },
    ] as const) {
      expectSameBytes(create(offlineV1.GetHistoricalFeaturesResponseSchema, { part }));
      expectSameBytes(create(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, { part }));
    }
    expectSameBytes(create(offlineV1.GetHistoricalFeaturesResponseSchema, {}));
  });

  test('random chunks match byte for byte', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 50; round++) {
      const rows = Math.floor(next() * 40);
      const columns = Array.from({ length: 1 + Math.floor(next() * 6) }, () => ({
        val: Array.from({ length: rows }, () => values[Math.floor(next() * values.length)] as ValueInit),
      }));
      const eventTimestamps = Array.from({ length: rows }, () => timestampFromMs(Math.floor((next() - 0.3) * 4e12)));
      expectSameBytes(
        create(offlineV1.GetHistoricalFeaturesResponseSchema, {
          part: { case: 'chunk', value: { firstRow: BigInt(Math.floor(next() * 1e12)), columns, eventTimestamps } },
        }),
      );
    }
  });
});

describe('decodeGetHistoricalFeaturesResponse', () => {
  test('returns what fromBinary returns for chunks with every Value case', () => {
    for (const message of [
      chunkResponse(0n, values.length * 2),
      chunkResponse(99n, 3),
      create(offlineV1.GetHistoricalFeaturesResponseSchema, { part: { case: 'chunk', value: {} } }),
    ]) {
      const bytes = toBinary(offlineV1.GetHistoricalFeaturesResponseSchema, message);
      for (const input of [bytes, Buffer.from(bytes)]) {
        expect(wire.decodeGetHistoricalFeaturesResponse(input)).toStrictEqual(fromBinary(offlineV1.GetHistoricalFeaturesResponseSchema, input));
      }
    }
    const source = create(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, {
      part: { case: 'chunk', value: chunkResponse(3n, 9).part.value as offlineV1.ResultChunk },
    });
    const bytes = toBinary(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, source);
    expect(wire.decodeGetHistoricalFeaturesFromSourceResponse(bytes)).toStrictEqual(fromBinary(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, bytes));
  });

  test('falls back to fromBinary for other parts, unpacked lists, unknown fields and merges', () => {
    const schema = toBinary(
      offlineV1.GetHistoricalFeaturesResponseSchema,
      create(offlineV1.GetHistoricalFeaturesResponseSchema, { part: { case: 'summary', value: { rowCount: 4n } } }),
    );
    // Value { int64_list_val { val: 1 (unpacked), val: 2 (unpacked) } } in a RepeatedValue column of a chunk.
    const value = [0x72, 4, 0x08, 1, 0x08, 2];
    const column = [0x0a, value.length, ...value];
    const chunk = [0x12, column.length, ...column];
    const unpacked = Uint8Array.from([0x12, chunk.length, ...chunk]);
    // The same chunk followed by an unknown field 9 in the response.
    const unknown = Uint8Array.from([...unpacked, 0x48, 1]);
    // Two Value fields: the last wins in protobuf-es.
    const twice = [0x20, 1, 0x20, 3];
    const twiceColumn = [0x0a, twice.length, ...twice];
    const merged = Uint8Array.from([0x12, twiceColumn.length + 2, 0x12, twiceColumn.length, ...twiceColumn]);
    for (const bytes of [schema, unpacked, unknown, merged, new Uint8Array()]) {
      expect(wire.decodeGetHistoricalFeaturesResponse(bytes)).toStrictEqual(fromBinary(offlineV1.GetHistoricalFeaturesResponseSchema, bytes));
    }
  });

  test('rejects truncated input as fromBinary does', () => {
    const bytes = toBinary(offlineV1.GetHistoricalFeaturesResponseSchema, chunkResponse(1n, 5));
    const cut = bytes.subarray(0, bytes.length - 3);
    expect(() => fromBinary(offlineV1.GetHistoricalFeaturesResponseSchema, cut)).toThrow();
    expect(() => wire.decodeGetHistoricalFeaturesResponse(cut)).toThrow();
  });
});
