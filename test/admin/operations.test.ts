import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial, type OperationInfo, type Sundial } from '../../src/index.ts';
import { killJobs } from '../conformance/search-conformance.ts';
import { tempDir } from '../helpers.ts';

/** Bulk operations as the process running them lives with them. */
describe('admin operations', () => {
  let dir: ReturnType<typeof tempDir>;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    // No background checkpoints: nothing else in the store ever makes a call wait for a turn.
    sundial = createSundial({ store: { path: join(dir.path, 'ops.db'), checkpointIntervalMs: 0 } });
  });
  afterEach(async () => {
    await sundial.close();
    dir.cleanup();
  });

  it('gives the event loop back after each chunk, though every SQLite call settles at once', async () => {
    const mail = sundial.queue('mail');
    await mail.addBulk(Array.from({ length: 3200 }, (_, n) => ({ name: 'send', payload: { n } })));
    await killJobs(sundial.store, 3200, 'mail', { name: 'Error', message: 'boom', category: 'error' });
    // Turns of the event loop while it runs, counted, not timed: a worker's heartbeat in the same
    // process needs them, or its leases lapse while an operator retries a dead-letter queue.
    let turns = 0;
    let counting = true;
    const countTurn = () => {
      turns++;
      if (counting) setImmediate(countTurn);
    };
    setImmediate(countTurn);
    const started = (await sundial.admin.dlq.retryAll({ queue: 'mail' })) as OperationInfo;
    const done = await sundial.admin.operations.wait(started.id);
    counting = false;
    expect(done).toMatchObject({ state: 'done', changed: 3200 });
    expect(turns).toBeGreaterThanOrEqual(3200 / 32);
  });

  it('reports a failed operation with its error and code, and keeps its count of what was done', async () => {
    const mail = sundial.queue('mail');
    await mail.addBulk(Array.from({ length: 100 }, () => ({ name: 'send' })));
    await killJobs(sundial.store, 100, 'mail', { name: 'Error', message: 'boom', category: 'error' });
    const started = (await sundial.admin.dlq.purge({ queue: 'mail' })) as OperationInfo;
    await sundial.store.close(); // the store goes away under it
    const done = await sundial.admin.operations.wait(started.id);
    expect(done.state).toBe('failed');
    expect(done.errorCode).toBe('SUNDIAL_STORE_CLOSED');
    expect(done.error).toMatch(/closed/i);
    expect(done.finishedAt).not.toBeNull();
  });
});
