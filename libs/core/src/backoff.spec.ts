import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 5_000 };

  it('doubles from initialMs and stops at maxMs', () => {
    const top = (attempt: number) => backoffDelay(attempt, options, () => 1);
    expect([0, 1, 2, 3, 5, 6, 7].map(top)).toEqual([100, 200, 400, 800, 3_200, 5_000, 5_000]);
  });

  it('jitters between half and all of the step', () => {
    expect(backoffDelay(2, options, () => 0)).toBe(200);
    expect(backoffDelay(2, options, () => 0.5)).toBe(300);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, options);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it('stays finite and bounded however many attempts failed', () => {
    expect(backoffDelay(10_000, options, () => 1)).toBe(5_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, { initialMs: 2, maxMs: 50 }, () => 1)).toBe(50);
    expect(backoffDelay(-1, options, () => 1)).toBe(100);
  });
});
