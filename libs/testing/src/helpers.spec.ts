import { Code, RpcError } from '@larder/rpc';
import { rpcRejection, seededRandom } from './index';

test('seededRandom repeats its sequence for a seed, in [0, 1)', () => {
  const a = seededRandom(11);
  // Pinned: generated test data (and the failures it finds) must not change under a refactor.
  expect([a(), a(), a()]).toEqual([0.5115870486479253, 0.5299464082345366, 0.6081185641232878]);
  const b = seededRandom(11);
  const c = seededRandom(12);
  const fromB = Array.from({ length: 1000 }, () => b());
  expect(fromB.slice(0, 3)).toEqual([0.5115870486479253, 0.5299464082345366, 0.6081185641232878]);
  expect(fromB.every((x) => x >= 0 && x < 1)).toBe(true);
  expect(c()).not.toBe(fromB[0]);
});

test('rpcRejection returns the RpcError, and fails when the call succeeds or fails otherwise', async () => {
  const error = await rpcRejection(Promise.reject(new RpcError(Code.NOT_FOUND, 'no such view')));
  expect(error.code).toBe(Code.NOT_FOUND);
  expect(error.message).toContain('no such view');
  await expect(rpcRejection(Promise.resolve(1))).rejects.toThrow('expected the call to fail');
  await expect(rpcRejection(Promise.reject(new TypeError('boom')))).rejects.toThrow(TypeError);
});
