// Event times keep their microseconds from every input form to the row the stores get.
import { create } from '@bufbuild/protobuf';
import { eventMicros } from '@larder/online-store';
import { typesV1 } from '@larder/proto';
import { dataFrameInput, rowBatchInput } from './push';
import { toMillis } from './values';

const AT = 1_769_904_000_123_456; // 2026-02-01T00:00:00.123456Z in microseconds

describe('event times to the microsecond', () => {
  it('a pushed Timestamp keeps microseconds and drops only the nanoseconds below them', () => {
    const batch = create(typesV1.RowBatchSchema, {
      columns: { driver_id: { val: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 1n } })] } },
      eventTimestamps: [{ seconds: 1_769_904_000n, nanos: 123_456_789 }],
      createdTimestamps: [{ seconds: 1_769_904_000n, nanos: 123_457_000 }],
    });
    const input = rowBatchInput(batch);
    expect(eventMicros(input.eventTs(0))).toBe(AT);
    expect(eventMicros(input.createdTs(0)!)).toBe(AT + 1);
  });

  it.each([
    ['RFC 3339 with microseconds', '2026-02-01T00:00:00.123456Z', AT],
    ['a zone-less string (UTC)', '2026-02-01 00:00:00.123456', AT],
    ['an offset', '2026-02-01T05:30:00.123456+05:30', AT],
    ['a 4-digit fraction', '2026-02-01T00:00:00.1234Z', AT - 56],
    ['nanoseconds', '2026-02-01T00:00:00.123456999Z', AT],
    ['epoch microseconds', AT, AT],
    ['epoch microseconds as text', String(AT), AT],
    ['a Timestamp-like object', { seconds: '1769904000', nanos: 123_456_000 }, AT],
    ['epoch milliseconds', 1_769_904_000_123, AT - 456],
  ])('reads %s', (_, raw, micros) => {
    expect(eventMicros(toMillis(raw))).toBe(micros);
    expect(eventMicros(dataFrameInput({ ts: [raw] }, 'ts', '').eventTs(0))).toBe(micros);
  });
});
