import { describe, expect, it } from 'vitest';
import { backoffDelay, toBackoffSpec } from '../../src/queue/index.ts';

const exponential = (jitter: 'none' | 'full' | 'equal') =>
  toBackoffSpec({ type: 'exponential', delay: 100, factor: 2, maxDelay: 1000, jitter }, { type: 'none' });

describe('backoff', () => {
  it('waits nothing with none and the same delay every time with fixed', () => {
    expect(backoffDelay({ type: 'none' }, 3)).toBe(0);
    const fixed = toBackoffSpec(250, { type: 'none' });
    expect([1, 2, 5].map((n) => backoffDelay(fixed, n))).toEqual([250, 250, 250]);
  });

  it('doubles exponential delays after each failure up to maxDelay', () => {
    const spec = exponential('none');
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(spec, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('keeps a zero first delay at zero however many failures, and caps growth at maxDelay', () => {
    const zero = toBackoffSpec(
      { type: 'exponential', delay: 0, factor: 100, jitter: 'none' },
      { type: 'none' },
    );
    expect(backoffDelay(zero, 5000)).toBe(0);
    const huge = toBackoffSpec(
      { type: 'exponential', delay: 10, factor: 100, maxDelay: 60_000, jitter: 'none' },
      { type: 'none' },
    );
    expect(backoffDelay(huge, 5000)).toBe(60_000);
  });

  it('spreads full jitter over [0, d] and equal jitter over [d/2, d]', () => {
    expect(backoffDelay(exponential('full'), 3, () => 0)).toBe(0);
    expect(backoffDelay(exponential('full'), 3, () => 0.5)).toBe(200);
    expect(backoffDelay(exponential('equal'), 3, () => 0)).toBe(200);
    expect(backoffDelay(exponential('equal'), 3, () => 0.999999)).toBe(400);
  });

  it('fills in defaults for the short forms', () => {
    expect(toBackoffSpec('exponential', { type: 'none' })).toEqual({
      type: 'exponential',
      delay: 1000,
      factor: 2,
      maxDelay: 3_600_000,
      jitter: 'equal',
    });
    expect(toBackoffSpec('fixed', { type: 'none' })).toEqual({ type: 'fixed', delay: 1000 });
    expect(toBackoffSpec(undefined, { type: 'fixed', delay: 5 })).toEqual({ type: 'fixed', delay: 5 });
  });
});
