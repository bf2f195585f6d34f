import type { BackoffSpec } from '../core/index.ts';

/**
 * The delay before the next attempt after `failures` failed attempts (1 after the first failure).
 * `random` is injectable so jitter can be tested exactly.
 */
export function backoffDelay(
  spec: BackoffSpec,
  failures: number,
  random: () => number = Math.random,
): number {
  switch (spec.type) {
    case 'none':
      return 0;
    case 'fixed':
      return spec.delay;
    case 'exponential': {
      const exponent = Math.max(0, failures - 1);
      // 0 × Infinity is NaN: a zero first delay stays zero however many failures there were.
      const delay = spec.delay === 0 ? 0 : Math.min(spec.maxDelay, spec.delay * spec.factor ** exponent);
      switch (spec.jitter) {
        case 'none':
          return Math.round(delay);
        case 'full':
          return Math.round(random() * delay);
        case 'equal':
          return Math.round(delay / 2 + (random() * delay) / 2);
      }
    }
  }
}
