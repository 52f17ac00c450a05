import { StoreUnavailableError } from '../errors';
import { withDeadline } from './connection';

describe('withDeadline', () => {
  it('passes on a value or an error that comes in time', async () => {
    await expect(withDeadline(Promise.resolve(42), 10_000, 'read')).resolves.toBe(42);
    const own = new Error('connection reset');
    await expect(withDeadline(Promise.reject(own), 10_000, 'read')).rejects.toBe(own);
  });

  it('rejects with StoreUnavailableError naming the operation and its budget when nothing comes', async () => {
    const never = new Promise<never>(() => undefined);
    const error = await withDeadline(never, 20, 'read').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe('redis did not answer the read within 20 ms');
  });

  it('a rejection after the deadline is handled, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', listener);
    try {
      let fail: (error: Error) => void = () => undefined;
      const late = new Promise<never>((_, reject) => {
        fail = reject;
      });
      await expect(withDeadline(late, 10, 'write')).rejects.toBeInstanceOf(StoreUnavailableError);
      fail(new Error('too late'));
      // Two turns of the event loop: long enough for Node to report an unhandled rejection.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});
