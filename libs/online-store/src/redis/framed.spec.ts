// The client's own RESP framing: sizes must match what is written byte for byte, or the
// connection's stream goes out of step with Redis.
import { FramedEval, bulkHeaderSize, frameArgs, writeBulkHeader } from './framed';

test('bulkHeaderSize is the size writeBulkHeader writes, for every width of length', () => {
  for (const length of [0, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 123_456]) {
    const buf = Buffer.alloc(16);
    expect(writeBulkHeader(buf, 0, length)).toBe(bulkHeaderSize(length));
    expect(buf.toString('latin1', 0, bulkHeaderSize(length))).toBe(`$${length}\r\n`);
  }
});

test('FramedEval writes the EVAL command ioredis would, with the framed arguments as given', () => {
  const script = Buffer.from('return 1'.padEnd(2500, ' '));
  const keys = [Buffer.from('k1'), Buffer.from('key-two')];
  const framed = [frameArgs([3, 'a']), frameArgs([Buffer.alloc(1200, 7)])];
  const payload = new FramedEval(script, keys, framed, 3).toWritable();
  const args: (string | Buffer)[] = ['EVAL', script, '2', ...keys, '3', 'a', Buffer.alloc(1200, 7)];
  const expected = Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map((arg) => frameArgs([arg]))]);
  expect(payload.equals(expected)).toBe(true);
});
