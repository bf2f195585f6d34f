import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESTART_BYTES } from '../../src/store/sqlite/checkpointer.ts';
import { waitFor } from '../helpers.ts';
import { startWorker, useSharedDatabase } from './children.ts';

/**
 * Two processes reading and writing one SQLite file without pause: some reader always has the WAL
 * open, so a checkpointed WAL was never rewound and grew by tens of kilobytes a job (gigabytes in
 * minutes). It must stay bounded.
 */
describe('the SQLite WAL under two busy processes', () => {
  const shared = useSharedDatabase('wal.db');

  it('stays within a few times its restart size while jobs are added and run without pause', async () => {
    const worker = startWorker({
      SUNDIAL_DB: shared.db,
      CONCURRENCY: 20,
      POLL_MS: 50,
      MODE: 'slow',
      SLOW_MS: 1,
    });
    await worker.ready;
    const q = shared.sundial.queue('q');
    let largest = 0;
    let added = 0;
    // One job at a time, as fast as one caller can, for 15 s: each its own commit, and so are its
    // claim and its outcome. Without restarts the WAL passes 4 GB by the end; with them it is
    // restarted whenever it passes its restart size, and grows only while a restart is under way.
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      await q.add('task');
      added++;
      if (added % 500 === 0) largest = Math.max(largest, statSync(`${shared.db}-wal`).size);
    }
    await waitFor(async () => (await q.counts()).completed === added, { timeoutMs: 120_000 });
    largest = Math.max(largest, statSync(`${shared.db}-wal`).size);
    expect(largest).toBeLessThan(4 * RESTART_BYTES);
  });
});
