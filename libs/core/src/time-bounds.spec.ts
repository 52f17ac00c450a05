import { DEFAULT_MAX_FUTURE_SKEW_MS, futureTimeProblem, timestampMs, TimestampRangeError } from './time-bounds';

// A fixed clock: these checks never read the machine's time or zone.
const NOW = Date.UTC(2026, 1, 1, 12, 0, 0);

describe('futureTimeProblem', () => {
  it('accepts the past, now and up to the skew ahead', () => {
    expect(futureTimeProblem('event time', 0, NOW, DEFAULT_MAX_FUTURE_SKEW_MS)).toBeUndefined();
    expect(futureTimeProblem('event time', NOW, NOW, DEFAULT_MAX_FUTURE_SKEW_MS)).toBeUndefined();
    expect(futureTimeProblem('event time', NOW + DEFAULT_MAX_FUTURE_SKEW_MS, NOW, DEFAULT_MAX_FUTURE_SKEW_MS)).toBeUndefined();
  });

  it('refuses a time beyond the skew, naming it, now and the setting, in UTC whatever TZ is', () => {
    expect(futureTimeProblem('event time', NOW + DEFAULT_MAX_FUTURE_SKEW_MS + 1, NOW, DEFAULT_MAX_FUTURE_SKEW_MS)).toBe(
      'event time 2026-02-01T12:05:00.001Z is ahead of now (2026-02-01T12:00:00.000Z) by more than the allowed 5 min (LARDER_MAX_FUTURE_SKEW)',
    );
    expect(futureTimeProblem('watermark', Date.UTC(9999, 0, 1), NOW, 0)).toMatch(/^watermark 9999-01-01T00:00:00\.000Z is ahead of now .* allowed 0 ms/);
  });
});

describe('timestampMs', () => {
  it('reads Timestamps from 0001 to 9999 to the millisecond', () => {
    expect(timestampMs({ seconds: BigInt(NOW / 1000), nanos: 123_999_999 }, 'end_time')).toBe(NOW + 123);
    expect(timestampMs({ seconds: 253_402_300_799n, nanos: 0 }, 'end_time')).toBe(Date.UTC(9999, 11, 31, 23, 59, 59));
    expect(timestampMs({ seconds: -62_135_596_800n, nanos: 0 }, 'end_time')).toBe(Date.parse('0001-01-01T00:00:00Z'));
  });

  it('names the field of 2^62 seconds and of bad nanos', () => {
    expect(() => timestampMs({ seconds: 2n ** 62n, nanos: 0 }, 'rows.event_timestamps[3]')).toThrow(
      new TimestampRangeError('rows.event_timestamps[3]', '4611686018427387904 seconds is outside the Timestamp range (years 0001 to 9999)'),
    );
    expect(() => timestampMs({ seconds: -(2n ** 62n), nanos: 0 }, 'start_time')).toThrow(/^start_time: /);
    expect(() => timestampMs({ seconds: 0n, nanos: -1 }, 'start_time')).toThrow('start_time: nanos must be in [0, 999999999], got -1');
  });
});
