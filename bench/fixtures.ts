import { type BulkJob, createSundial, type Sundial } from '../src/index.ts';
import { openStore, type StoreSpec } from './stores.ts';

/** The queue every workload uses, ours and the peers'. */
export const QUEUE = 'bench';

/** Runs `work` with a Sundial on `store`, opened before `work` starts timing and closed after. */
export async function withSundial<T>(store: StoreSpec, work: (sundial: Sundial) => Promise<T>): Promise<T> {
  const sundial = createSundial({ store: openStore(store) });
  try {
    await sundial.init();
    return await work(sundial);
  } finally {
    await sundial.close();
  }
}

/** Adds `count` jobs, the `index`-th made by `job(index)`, with `addBulk`, `chunkSize` per call. */
export async function addInChunks(
  sundial: Sundial,
  count: number,
  chunkSize: number,
  job: (index: number) => BulkJob,
): Promise<void> {
  const queue = sundial.queue(QUEUE);
  for (let start = 0; start < count; start += chunkSize) {
    const size = Math.min(chunkSize, count - start);
    await queue.addBulk(Array.from({ length: size }, (_, i) => job(start + i)));
  }
}

/** Fails the run if the store does not hold what the workload claims to have done. */
export async function expectCount(
  sundial: Sundial,
  state: 'waiting' | 'completed',
  expected: number,
): Promise<void> {
  const counts = await sundial.queue(QUEUE).counts();
  if (counts[state] !== expected) {
    throw new Error(`expected ${expected} ${state} jobs, found ${JSON.stringify(counts)}`);
  }
}
