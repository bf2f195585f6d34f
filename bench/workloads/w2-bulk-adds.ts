import { addInChunks, expectCount, withSundial } from '../fixtures.ts';
import { withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

export const TOTAL = 50_000;
/**
 * Jobs per addBulk() call, chosen by measurement on the 2-core machine: 1,000 to 10,000 per call all
 * gave 205-215 k jobs/s (warm); 500 lost about a quarter to per-call overhead and one call of 50,000
 * about a sixth (a single large transaction, a long WAL to checkpoint, more garbage at once).
 */
export const BULK_CHUNK = 5_000;

export const bulkAdds: Workload = {
  id: 'W2',
  title: `${TOTAL.toLocaleString('en')} jobs by addBulk(), ${BULK_CHUNK.toLocaleString('en')} per call`,
  metric: 'throughput',
  unit: 'jobs/s',
  better: 'higher',
  target: 150_000,
  targetFor: ['sqlite'],
  reference: 25_500,
  warmup: true,
  run: (store) =>
    withNamespace(store, 'w2', (spec) =>
      withSundial(spec, async (sundial): Promise<Sample> => {
        const started = performance.now();
        await addInChunks(sundial, TOTAL, BULK_CHUNK, (n) => ({ name: 'noop', payload: { n } }));
        const seconds = (performance.now() - started) / 1000;
        await expectCount(sundial, 'waiting', TOTAL);
        return { value: TOTAL / seconds };
      }),
    ),
};
