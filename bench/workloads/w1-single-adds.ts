import { expectCount, QUEUE, withSundial } from '../fixtures.ts';
import { withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

export const TOTAL = 10_000;
export const IN_FLIGHT = 100;

/**
 * Many request handlers each adding one job and awaiting it: what group commit is for. A pool of
 * producers keeps at most `IN_FLIGHT` adds outstanding, each starting its next add only after the
 * previous one resolved.
 */
export const singleAdds: Workload = {
  id: 'W1',
  title: `${TOTAL.toLocaleString('en')} add() calls, ${IN_FLIGHT} in flight`,
  metric: 'throughput',
  unit: 'jobs/s',
  better: 'higher',
  target: 40_000,
  targetFor: ['sqlite'],
  reference: 19_600,
  warmup: true,
  run: (store) =>
    withNamespace(store, 'w1', (spec) =>
      withSundial(spec, async (sundial): Promise<Sample> => {
        const queue = sundial.queue(QUEUE);
        let issued = 0;
        const producer = async () => {
          while (issued < TOTAL) {
            issued++;
            await queue.add('noop', { n: issued });
          }
        };
        const started = performance.now();
        await Promise.all(Array.from({ length: IN_FLIGHT }, producer));
        const seconds = (performance.now() - started) / 1000;
        await expectCount(sundial, 'waiting', TOTAL);
        return { value: TOTAL / seconds };
      }),
    ),
};
