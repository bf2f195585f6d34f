import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BulkJob, createSundial, type Sundial } from '../src/index.ts';

/** The queue every workload uses. */
export const QUEUE = 'bench';

/** Temp dirs of runs under way, so an interrupted bench can still remove them. */
const liveDirs = new Set<string>();

/** Removes the temp dirs of runs still under way. Synchronous, so it is safe in an `exit` handler. */
export function removeTempDirs(): void {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

/**
 * Runs `work` with the path of a database file that does not exist yet, in a fresh temp dir that is
 * removed afterwards: every run starts from an empty store, so no run pays for an earlier run's rows.
 */
export async function withTempDb<T>(work: (dbPath: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  liveDirs.add(dir);
  try {
    return await work(join(dir, 'sundial.db'));
  } finally {
    liveDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `work` with a Sundial on `dbPath`, opened before `work` starts timing and closed after. */
export async function withSundial<T>(dbPath: string, work: (sundial: Sundial) => Promise<T>): Promise<T> {
  const sundial = createSundial({ store: { path: dbPath } });
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
