import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HANDOFF_LOCK_CLASS } from '../../src/store/postgres/wake-listener.ts';
import { handChannel, queueBase } from '../../src/store/redis/keys.ts';
import { sleep, waitFor } from '../helpers.ts';
import { enginesUnderTest, startWorker, useSharedDatabase, useSharedStore } from './children.ts';

const JOBS = 20_000;

/** The engines whose stores hand jobs from adds straight to idle workers (`Store.handoff`). */
const HANDOFF_ENGINES = new Set(['postgres', 'redis']);

const engines = await enginesUnderTest();

describe.each(engines)('workers in real processes (%s)', (engine) => {
  const shared = useSharedStore(engine);

  it(`four worker processes on one store complete ${JOBS.toLocaleString('en')} jobs, each exactly once`, async () => {
    const logs = [0, 1, 2, 3].map((i) => join(shared.dir, `worker-${i}.log`));
    const workers = logs.map((log) => startWorker({ ...shared.env, LOG: log, CONCURRENCY: 20 }));
    await Promise.all(workers.map((w) => w.ready));

    // Added while the workers already wait, in chunks, so they wake on each other's commits.
    const q = shared.sundial.queue('q');
    const ids: string[] = [];
    for (let chunk = 0; chunk < JOBS / 1000; chunk++) {
      const jobs = await q.addBulk(
        Array.from({ length: 1000 }, (_, i) => ({ name: 'task', payload: { n: chunk * 1000 + i } })),
      );
      ids.push(...jobs.map((j) => j.id));
    }
    await waitFor(async () => (await q.counts()).completed === JOBS, {
      timeoutMs: 120_000,
      intervalMs: 100,
      message: `${JOBS} completed jobs`,
    });

    for (const w of workers) w.process.kill('SIGTERM');
    const exits = await Promise.all(workers.map((w) => w.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0, 0]);

    const lines = logs.flatMap((log) => readFileSync(log, 'utf8').trim().split('\n'));
    const ranIds = lines.map((line) => line.split(' ')[0]);
    expect(ranIds).toHaveLength(JOBS);
    expect(new Set(ranIds)).toEqual(new Set(ids));
    expect(await q.counts()).toMatchObject({ completed: JOBS, waiting: 0, active: 0, failed: 0, dead: 0 });
    // Every job ran in one attempt, so none was handed to two workers.
    for (let offset = 0; offset < JOBS; offset += 1000) {
      const page = await q.listJobs('completed', { limit: 1000, offset });
      expect(page.filter((job) => job.attempt !== 1 || job.history.length !== 1)).toEqual([]);
    }
    // Work was shared: more than one process took jobs.
    expect(new Set(lines.map((line) => line.split(' ')[1])).size).toBeGreaterThan(1);
  });

  it('wakes an idle worker in another process when jobs are added, without waiting for its poll', async () => {
    // With a one-minute poll, only a wake-up (the wake file, NOTIFY, pub/sub) brings these jobs in time.
    const worker = startWorker({
      ...shared.env,
      POLL_MS: 60_000,
      LOG: join(shared.dir, 'woken.log'),
    });
    await worker.ready;
    await sleep(300); // its first claim round has found nothing and it sleeps
    const q = shared.sundial.queue('q');
    for (let i = 0; i < 3; i++) {
      const job = await q.add('task', { i });
      await waitFor(async () => (await q.getJob(job.id))?.state === 'completed', {
        timeoutMs: 20_000,
        message: `job ${i} to be woken and completed`,
      });
    }
    // The child reports starts over IPC, which may arrive after the parent reads the store.
    await waitFor(() => worker.started.length === 3, { message: 'three start reports' });
  });

  it('a worker killed with SIGKILL mid-job: after its lease expires the job runs again elsewhere and completes', async () => {
    const q = shared.sundial.queue('q');
    const victim = startWorker({ ...shared.env, MODE: 'hang', LEASE_MS: 1500, HEARTBEAT_MS: 200 });
    await victim.ready;
    const added = await q.add('task', { important: true });
    await waitFor(() => victim.started.length === 1, { message: 'the victim to start the job' });

    const rescuer = startWorker({
      ...shared.env,
      LOG: join(shared.dir, 'rescuer.log'),
      STALLED_CHECK_MS: 100,
    });
    await rescuer.ready;
    // While the victim lives and renews its lease, nobody else runs the job.
    await sleep(2000);
    expect(rescuer.started).toEqual([]);
    expect((await q.getJob(added.id))!.state).toBe('active');

    const killedAt = Date.now();
    victim.process.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');

    const job = await waitFor(
      async () => {
        const current = await q.getJob(added.id);
        return current?.state === 'completed' ? current : null;
      },
      { timeoutMs: 15_000, message: 'the job to complete on the rescuer' },
    );
    await waitFor(() => rescuer.started.length > 0, { message: 'the rescuer’s start report' });
    expect(rescuer.started).toEqual([added.id]);
    expect(job).toMatchObject({ attempt: 2, stalls: 1, failures: 0, payload: { important: true } });
    expect(job.history).toHaveLength(2);
    const [first, second] = job.history;
    expect(first).toMatchObject({ attempt: 1, outcome: 'stalled' });
    expect(second).toMatchObject({ attempt: 2, outcome: 'completed' });
    expect(first!.worker).not.toBe(second!.worker);
    expect(first!.worker).toContain(`:${victim.process.pid}:`);
    expect(second!.worker).toContain(`:${rescuer.process.pid}:`);
    // It waited for the lease, it did not jump the gun.
    expect(second!.startedAt).toBeGreaterThan(killedAt);
    expect(second!.startedAt).toBeGreaterThanOrEqual(first!.finishedAt);
  });
});

describe.each(engines.filter((engine) => HANDOFF_ENGINES.has(engine)))(
  'jobs handed to idle workers in real processes (%s)',
  (engine) => {
    const shared = useSharedStore(engine);
    const readers: OfferReader[] = [];
    afterEach(async () => {
      await Promise.all(readers.splice(0).map((reader) => reader.close()));
    });

    it('an idle worker killed with SIGKILL is handed nothing more: the next job goes to a live worker at once', async () => {
      expect(shared.sundial.store.handoff).toBeDefined();
      // Idle with a one-minute poll, both offer their free slots for two minutes; the victim offers
      // more, so the first job is handed to it.
      const victim = startWorker({ ...shared.env, POLL_MS: 60_000, CONCURRENCY: 20 });
      const survivor = startWorker({ ...shared.env, POLL_MS: 60_000, CONCURRENCY: 4 });
      await Promise.all([victim.ready, survivor.ready]);
      // Their first claims make the offers.
      const reader = await offerReader(engine, shared.env);
      readers.push(reader);
      const offers = await waitFor(async () => {
        const found = await reader.offers();
        return found.length === 2 ? found.sort((a, b) => b.free - a.free) : null;
      });
      const victimOffer = offers[0]!;
      const q = shared.sundial.queue('q');
      const first = await q.add('task', { n: 1 });
      // Handed in the add itself: not waiting when the add returns (active, or already run: the
      // victim may finish it before this read), and started at the add's own time, as only a handed
      // job is (a claim after a wake-up starts it later).
      const handed = (await q.getJob(first.id))!;
      expect(['active', 'completed']).toContain(handed.state);
      expect(handed.startedAt).toBe(handed.createdAt);
      await waitFor(() => victim.started.includes(first.id), {
        message: 'the victim to start the first job',
      });

      victim.process.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      // The server notices the closed connection: Redis drops the subscription, PostgreSQL the lock.
      await waitFor(async () => !(await reader.stillListening(victimOffer)), {
        message: "the server to drop the victim's connection",
      });

      // Handed to the dead worker, it would wait for its 30 s lease; it goes to the survivor now.
      const second = await q.add('task', { n: 2 });
      const done = await waitFor(
        async () => {
          const job = await q.getJob(second.id);
          return job?.state === 'completed' ? job : null;
        },
        { timeoutMs: 10_000, message: 'the second job to complete on the survivor' },
      );
      expect(done).toMatchObject({ attempt: 1, stalls: 0 });
      expect(done.history).toHaveLength(1);
      expect(done.history[0]!.worker).toContain(`:${survivor.process.pid}:`);
    });
  },
);

describe('graceful shutdown of a worker process', () => {
  const shared = useSharedDatabase('shutdown.db');

  it('on SIGTERM stops claiming, lets running jobs finish, then exits 0', async () => {
    const q = shared.sundial.queue('q');
    const worker = startWorker({
      SUNDIAL_DB: shared.db,
      MODE: 'slow',
      SLOW_MS: 600,
      CONCURRENCY: 2,
      GRACE_MS: 10_000,
    });
    await worker.ready;
    const jobs = await q.addBulk(Array.from({ length: 4 }, () => ({ name: 'task' })));
    await waitFor(() => worker.started.length === 2, { message: 'two jobs to start' });

    worker.process.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    const states = await Promise.all(jobs.map(async (job) => (await q.getJob(job.id))!.state));
    expect(states.sort()).toEqual(['completed', 'completed', 'waiting', 'waiting']);
    expect(worker.started).toHaveLength(2);
  });

  it('after the grace period releases unfinished jobs back to waiting and exits 0', async () => {
    const q = shared.sundial.queue('q');
    const worker = startWorker({ SUNDIAL_DB: shared.db, MODE: 'hang', GRACE_MS: 300 });
    await worker.ready;
    const added = await q.add('task');
    await waitFor(() => worker.started.length === 1);

    worker.process.kill('SIGINT');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const job = (await q.getJob(added.id))!;
    expect(job).toMatchObject({ state: 'waiting', leaseOwner: null, attempt: 1 });
    expect(job.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'released' })]);
  });

  it('a second signal exits at once, leaving the lease to expire', async () => {
    const q = shared.sundial.queue('q');
    const worker = startWorker({ SUNDIAL_DB: shared.db, MODE: 'hang', GRACE_MS: 60_000 });
    await worker.ready;
    const added = await q.add('task');
    await waitFor(() => worker.started.length === 1);

    worker.process.kill('SIGTERM');
    await sleep(200);
    const secondAt = Date.now();
    worker.process.kill('SIGTERM');
    expect((await worker.exited).code).toBe(130);
    expect(Date.now() - secondAt).toBeLessThan(5000);
    expect((await q.getJob(added.id))!.state).toBe('active');
  });
});

interface Offer {
  owner: string;
  free: number;
  /** PostgreSQL: the backend pid of the worker's listening connection. */
  listener?: number;
}

/** One connection to the server the children share, to read their offers (see `Store.handoff`). */
interface OfferReader {
  /** The offers of queue `q`. */
  offers(): Promise<Offer[]>;
  /** Whether the server still counts the offering worker's connection as there. */
  stillListening(offer: Offer): Promise<boolean>;
  close(): Promise<void>;
}

async function offerReader(engine: string, env: Record<string, string>): Promise<OfferReader> {
  const namespace = env.SUNDIAL_NAMESPACE!;
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: env.SUNDIAL_URL });
    await client.connect();
    return {
      offers: async () =>
        (
          await client
            .query<Offer>(`SELECT owner, free, listener FROM "${namespace}".offers WHERE queue = 'q'`)
            .catch(() => ({ rows: [] as Offer[] }))
        ).rows,
      stillListening: async (offer) =>
        (
          await client.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted`,
            [HANDOFF_LOCK_CLASS, offer.listener],
          )
        ).rows.length > 0,
      close: () => client.end(),
    };
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(env.SUNDIAL_URL!);
  return {
    offers: async () =>
      Object.entries(await redis.hgetall(`${queueBase(namespace, 'q')}:offers`)).map(([owner, offer]) => ({
        owner,
        free: Number(offer.split(':')[0]),
      })),
    stillListening: async (offer) => {
      const reply = (await redis.call('PUBSUB', 'NUMSUB', handChannel(namespace, offer.owner))) as [
        string,
        number,
      ];
      return reply[1] > 0;
    },
    close: async () => {
      redis.disconnect();
    },
  };
}
