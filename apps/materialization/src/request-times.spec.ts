// Window times a client could break a materialization with, sent to the real service:
// seconds beyond the Timestamp range, and a window ending in the future (its watermark
// would make incremental runs skip data). Each is INVALID_ARGUMENT naming the field, and
// no job runs: the view's state in the registry stays empty.
import { Code } from '@larder/rpc';
import { rpcRejection } from '@larder/testing';
import { startHarness, ts } from './testing';
import type { Harness } from './testing';

jest.setTimeout(60_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ online: { type: 'sqlite' }, offline: { type: 'duckdb' } });
}, 60_000);
afterAll(() => harness?.close());

const past = new Date(Date.UTC(2026, 0, 1));

test('2^62 seconds as start_time or end_time is INVALID_ARGUMENT naming the field, not INTERNAL', async () => {
  const start = await rpcRejection(harness.jobs.materialize({ project: harness.project, startTime: { seconds: 2n ** 62n, nanos: 0 }, endTime: ts(past) }));
  expect([start.code, start.message]).toEqual([
    Code.INVALID_ARGUMENT,
    'start_time: 4611686018427387904 seconds is outside the Timestamp range (years 0001 to 9999)',
  ]);
  const end = await rpcRejection(harness.jobs.materializeIncremental({ project: harness.project, endTime: { seconds: -(2n ** 62n), nanos: 0 } }));
  expect(end.code).toBe(Code.INVALID_ARGUMENT);
  expect(end.message).toMatch(/^end_time: -4611686018427387904 seconds is outside the Timestamp range/);
});

test('an end_time ahead of now by more than the skew is INVALID_ARGUMENT; no job starts', async () => {
  const year9999 = ts(new Date(Date.UTC(9999, 0, 1)));
  const range = await rpcRejection(harness.jobs.materialize({ project: harness.project, startTime: ts(past), endTime: year9999 }));
  expect(range.code).toBe(Code.INVALID_ARGUMENT);
  expect(range.message).toMatch(
    /^end_time: end_time 9999-01-01T00:00:00\.000Z is ahead of now \(.*\) by more than the allowed 5 min \(LARDER_MAX_FUTURE_SKEW\); materialize up to now/,
  );
  const incremental = await rpcRejection(harness.jobs.materializeIncremental({ project: harness.project, endTime: ts(new Date(Date.now() + 3_600_000)) }));
  expect([incremental.code, incremental.message.split(' ')[0]]).toEqual([Code.INVALID_ARGUMENT, 'end_time:']);
  expect((await harness.jobs.listJobs({})).jobs).toEqual([]);
});
