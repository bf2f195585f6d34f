import { WorkerProcess } from '../child.ts';
import { addInChunks, expectCount, QUEUE, withSundial } from '../fixtures.ts';
import { withNamespace } from '../stores.ts';
import { BULK_CHUNK } from './w2-bulk-adds.ts';
import type { Sample, Workload } from './workload.ts';

export const TOTAL = 20_000;
export const CONCURRENCY = 50;
/**
 * Claimed ahead of free slots, a drain's best setting as the peers get theirs: at most 500 jobs held
 * (50 running, 450 ahead), as graphile-worker's local queue of 500. Fewer rounds to the store for
 * the same jobs; measured here on PostgreSQL, prefetch 50 gave about 11 k jobs/s, 250 about 15.5 k
 * and 450 about 16 k; Redis and SQLite gain little, their rounds being cheap.
 */
const PREFETCH = 450;

/**
 * Raw processing rate: a backlog of no-op jobs drained by one worker process. Only the draining is
 * timed, from the moment the bench tells the worker to start until it reports the last completion.
 */
export const drain: Workload = {
  id: 'W3',
  title: `${TOTAL.toLocaleString('en')} no-op jobs, 1 worker process, concurrency ${CONCURRENCY}, prefetch ${PREFETCH}`,
  metric: 'throughput',
  unit: 'jobs/s',
  better: 'higher',
  target: 30_000,
  targetFor: ['sqlite'],
  reference: 14_100,
  run: (store) =>
    withNamespace(store, 'w3', async (spec): Promise<Sample> => {
      await withSundial(spec, (sundial) => addInChunks(sundial, TOTAL, BULK_CHUNK, () => ({ name: 'noop' })));
      const worker = await WorkerProcess.spawn({
        mode: 'drain',
        store: spec,
        queue: QUEUE,
        concurrency: CONCURRENCY,
        prefetch: PREFETCH,
        expected: TOTAL,
      });
      let seconds: number;
      try {
        seconds = await timeDrain(worker);
      } finally {
        await worker.stop();
      }
      await withSundial(spec, (sundial) => expectCount(sundial, 'completed', TOTAL));
      return { value: TOTAL / seconds };
    }),
};

/**
 * Seconds from telling a ready worker process to start until it reports the last completion; the
 * peers (bench/compare) are timed by this same code.
 */
export async function timeDrain(worker: WorkerProcess): Promise<number> {
  const started = performance.now();
  worker.send({ type: 'start' });
  await worker.receive('done', 120_000);
  return (performance.now() - started) / 1000;
}
