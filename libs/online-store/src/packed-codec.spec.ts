// The packed row format: event times in microseconds (version 2), rows of version 1 (ms) still read.
import { eventMsFromMicros } from './event-time';
import { viewCodec } from './packed-codec';
import { T, ek, str, view } from './testing/values';

describe('packed rows', () => {
  const v = view('p', 'stats', { label: T.STRING });
  const codec = viewCodec(v);

  it('store the event time in microseconds', () => {
    const at = eventMsFromMicros(1_767_225_600_123_456);
    const buf = codec.encode({ entityKey: ek({ driver_id: 1n }), eventTs: at, values: { label: str('x') } });
    expect(buf[0]).toBe(2);
    expect(buf.readBigUInt64BE(1)).toBe(1_767_225_600_123_456n);
    expect(codec.plan().decode(buf)).toEqual({ eventTs: at, values: [str('x')] });
  });

  it('of version 1 (milliseconds, written before) read with their time', () => {
    const buf = codec.encode({ entityKey: ek({ driver_id: 1n }), eventTs: 1_767_225_600_123, values: { label: str('old') } });
    buf[0] = 1;
    buf.writeBigUInt64BE(1_767_225_600_123n, 1);
    expect(codec.plan().decode(buf)).toEqual({ eventTs: 1_767_225_600_123, values: [str('old')] });
  });
});
