import { WorkerProcess } from '../child.ts';
import { addInChunks, expectCount, QUEUE, withSundial, withTempDb } from '../fixtures.ts';
import { BULK_CHUNK } from './w2-bulk-adds.ts';
import type { Sample, Workload } from './workload.ts';

const TOTAL = 20_000;
const CONCURRENCY = 50;

/**
 * Raw processing rate: a backlog of no-op jobs drained by one worker process. Only the draining is
 * timed, from the moment the bench tells the worker to start until it reports the last completion.
 */
export const drain: Workload = {
  id: 'W3',
  title: `${TOTAL.toLocaleString('en')} no-op jobs, 1 worker process, concurrency ${CONCURRENCY}`,
  metric: 'throughput',
  unit: 'jobs/s',
  better: 'higher',
  target: 30_000,
  reference: 14_100,
  run: () =>
    withTempDb(async (dbPath): Promise<Sample> => {
      await withSundial(dbPath, (sundial) =>
        addInChunks(sundial, TOTAL, BULK_CHUNK, () => ({ name: 'noop' })),
      );
      const worker = await WorkerProcess.spawn({
        mode: 'drain',
        dbPath,
        queue: QUEUE,
        concurrency: CONCURRENCY,
        expected: TOTAL,
      });
      let seconds: number;
      try {
        const started = performance.now();
        worker.send({ type: 'start' });
        await worker.receive('done', 120_000);
        seconds = (performance.now() - started) / 1000;
      } finally {
        await worker.stop();
      }
      await withSundial(dbPath, (sundial) => expectCount(sundial, 'completed', TOTAL));
      return { value: TOTAL / seconds };
    }),
};
