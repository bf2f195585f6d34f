import { expectCount, QUEUE, withSundial, withTempDb } from '../fixtures.ts';
import type { Sample, Workload } from './workload.ts';

const TOTAL = 10_000;
const IN_FLIGHT = 100;

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
  reference: 19_600,
  warmup: true,
  run: () =>
    withTempDb((dbPath) =>
      withSundial(dbPath, async (sundial): Promise<Sample> => {
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
