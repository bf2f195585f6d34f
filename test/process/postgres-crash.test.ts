import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { PostgresStore } from '../../src/store/index.ts';
import { waitFor } from '../helpers.ts';
import { type PrivatePostgres, postgresBin, startPrivatePostgres } from './private-postgres.ts';

// The server refuses root; the test runs it as the postgres user, which needs root to switch to.
const available = postgresBin() !== null && process.getuid?.() === 0;

if (!available && process.env.CI === 'true') {
  it('can start a PostgreSQL server of its own', () => {
    throw new Error('PostgreSQL server binaries (or the rights to run them) are missing');
  });
}

/**
 * An add commits without waiting for the disk, so the job reaches a worker sooner, then waits for
 * a durable commit before it resolves (see the store's `addJobs`). The server here writes the WAL
 * of such commits only every 10 s (`wal_writer_delay`), so an add that resolved without that wait
 * would be lost by a crash that follows it at once.
 */
describe.runIf(available)('PostgreSQL crashing right after an add', () => {
  let server: PrivatePostgres;

  beforeAll(async () => {
    server = await startPrivatePostgres({ wal_writer_delay: '10s' });
  });
  afterAll(() => server?.stop());

  it('keeps every job whose add resolved: one no worker was waiting for, one handed to a worker that is running it', async () => {
    const sundial = createSundial({
      store: new PostgresStore({ connectionString: server.url, poolSize: 2 }),
    });
    const errors: unknown[] = [];
    sundial.on('error', ({ error }) => errors.push(error)); // the crash cuts its connections
    await sundial.init();
    const started: string[] = [];
    const worker = sundial.worker(
      'handed',
      {
        // Runs until the crash: no outcome, whose durable commit would flush the add too.
        task: async (_payload, { job }) => {
          started.push(job.id);
          await new Promise(() => {});
        },
      },
      { concurrency: 1, pollMs: 60_000 },
    );
    await waitFor(async () => worker.isRunning);
    // Let its first claim pass, so it is waiting for a handoff.
    await new Promise((resolve) => setTimeout(resolve, 300));
    // This one commits durably: it hands nothing.
    const woken = await sundial.queue('nobody').add('task', { n: 2 });
    // This one's commit does not wait for the disk (nothing after it here flushes it but the add).
    const handed = await sundial.queue('handed').add('task', { n: 1 });
    await waitFor(() => started.includes(handed.id), { message: 'the worker to start the handed job' });

    server.crash();

    const reader = new PostgresStore({ connectionString: server.url, poolSize: 1 });
    try {
      await reader.init();
      expect(await reader.getJob(handed.id)).toMatchObject({ state: 'active', payload: { n: 1 } });
      expect(await reader.getJob(woken.id)).toMatchObject({ state: 'waiting', payload: { n: 2 } });
    } finally {
      await reader.close();
      await sundial.close({ graceMs: 0 });
    }
  });
});
