import pg from 'pg';
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

  /**
   * Adds a job to a queue nobody works, then one to a queue whose idle worker it is handed to and
   * which runs it until the crash (no outcome, whose durable commit would flush the add too), and
   * crashes the server as soon as both adds resolved. Both jobs must be there after the restart.
   */
  async function addHandAndCrash(connectionString: string, schema: string): Promise<void> {
    const store = new PostgresStore({ connectionString, schema, poolSize: 2 });
    const sundial = createSundial({ store });
    sundial.on('error', () => {}); // the crash cuts its connections
    await sundial.init();
    const started: string[] = [];
    const worker = sundial.worker(
      'handed',
      {
        task: async (_payload, { job }) => {
          started.push(job.id);
          await new Promise(() => {});
        },
      },
      { concurrency: 1, pollMs: 60_000 },
    );
    const watcher = new pg.Client({ connectionString: server.url });
    await watcher.connect();
    try {
      await waitFor(
        async () =>
          (await watcher.query(`SELECT 1 FROM "${schema}".offers WHERE queue = 'handed'`)).rowCount === 1,
        { message: 'the worker to offer its slot' },
      );
    } finally {
      await watcher.end();
    }
    // This one hands nothing: it commits durably.
    const woken = await sundial.queue('nobody').add('task', { n: 2 });
    // Nothing after this one flushes it but what its add waits for.
    const handed = await sundial.queue('handed').add('task', { n: 1 });
    await waitFor(() => started.includes(handed.id), { message: 'the worker to start the handed job' });
    expect(await sundial.queue('handed').getJob(handed.id)).toMatchObject({ leaseOwner: worker.id });

    server.crash();

    const reader = new PostgresStore({ connectionString, schema, poolSize: 1 });
    try {
      await reader.init();
      expect(await reader.getJob(handed.id)).toMatchObject({ state: 'active', payload: { n: 1 } });
      expect(await reader.getJob(woken.id)).toMatchObject({ state: 'waiting', payload: { n: 2 } });
    } finally {
      await reader.close();
      await sundial.close({ graceMs: 0 });
    }
  }

  it('keeps every job whose add resolved: one no worker was waiting for, one handed to a worker that is running it', async () => {
    await addHandAndCrash(server.url, 'sundial');
  });

  it('where the flush an add waits for is refused, a handing add commits durably instead', async () => {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query(
        'REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC',
      );
      await admin.query('CREATE ROLE app LOGIN');
      await admin.query('GRANT CREATE ON DATABASE postgres TO app');
    } finally {
      await admin.end();
    }
    const asApp = server.url.replace('//root@', '//app@');
    const reported: unknown[] = [];
    const check = new PostgresStore({
      connectionString: asApp,
      schema: 'app_jobs',
      poolSize: 1,
      onError: (error) => reported.push(error),
    });
    try {
      await check.init();
    } finally {
      await check.close();
    }
    expect(reported).toEqual([]); // a missing privilege: not reported, not fatal
    await addHandAndCrash(asApp, 'app_jobs');
  });
});
