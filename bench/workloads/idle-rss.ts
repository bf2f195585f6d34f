import { WorkerProcess } from '../child.ts';
import { QUEUE } from '../fixtures.ts';
import { withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

const IDLE_MS = 2_000;

/** What one idle worker costs a host: resident memory of a worker process with nothing to do. */
export const idleRss: Workload = {
  id: 'RSS',
  // The worker runs the built dist/ from plain JS, as it would when deployed: loading Node's type
  // stripping for .ts source alone adds ~18 MB that no production worker pays.
  title: `idle worker process (built dist/), ${IDLE_MS / 1000} s on an empty queue`,
  metric: 'resident memory',
  unit: 'MB',
  better: 'lower',
  target: 80,
  run: (store) =>
    withNamespace(store, 'rss', async (spec): Promise<Sample> => {
      const worker = await WorkerProcess.spawn({
        mode: 'idle',
        store: spec,
        queue: QUEUE,
        concurrency: 50,
        idleMs: IDLE_MS,
      });
      try {
        worker.send({ type: 'start' });
        const { bytes } = await worker.receive('rss', IDLE_MS + 10_000);
        // MB as 10^6 bytes: the stricter reading of the target (80 MiB would be 83.9 MB).
        return { value: bytes / 1e6 };
      } finally {
        await worker.stop();
      }
    }),
};
