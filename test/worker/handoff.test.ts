import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AT_RISK_CODE,
  createSundial,
  type Job,
  RECONNECTS_CHANNEL,
  type Sundial,
  UNCHECKED_CODE,
} from '../../src/index.ts';
import { PostgresStore, RedisStore, type Store } from '../../src/store/index.ts';
import { engineUnderTest, POSTGRES_URL, REDIS_URL } from '../conformance/servers.ts';
import { newJob } from '../conformance/store-conformance.ts';
import { interpose, waitFor } from '../helpers.ts';
import { dropNamespace } from '../process/children.ts';

/**
 * Trouble the stores and workers report outside any call; none is expected. (The Redis engine's
 * warning that this server keeps nothing on disk is about the server, not the test.)
 */
const reported: unknown[] = [];
const onError = (error: unknown) => {
  const code = (error as { code?: unknown })?.code;
  if (code !== AT_RISK_CODE && code !== UNCHECKED_CODE) reported.push(error);
};

/** The engines with direct handoff, each with a store on a namespace of its own and its removal. */
const engines: {
  name: 'postgres' | 'redis';
  url: string;
  make: (namespace: string, options?: { handoff?: boolean }) => Store;
}[] = [];
if (await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432)) {
  engines.push({
    name: 'postgres',
    url: POSTGRES_URL,
    make: (schema, options) =>
      new PostgresStore({ connectionString: POSTGRES_URL, schema, poolSize: 4, onError, ...options }),
  });
}
if (await engineUnderTest('Redis', REDIS_URL, 6379)) {
  engines.push({
    name: 'redis',
    url: REDIS_URL,
    make: (prefix, options) => new RedisStore({ url: REDIS_URL, prefix, onError, ...options }),
  });
}

/** A worker on a store with direct handoff: what it is handed, and what it gives back. */
describe.each(engines)('worker with direct handoff ($name)', (engine) => {
  let namespace: string;
  let sundial: Sundial;
  /** Claims that left slots on offer: a worker waiting for a handoff has made one. */
  let offers = 0;
  /** Of the claims that offered, whether each asked to leave the earlier offer standing. */
  let stands: boolean[] = [];
  const offered = async () => {
    await waitFor(() => offers > 0, { message: 'the worker to offer its free slots' });
  };

  beforeEach(() => {
    namespace = `sundial_test_${randomBytes(6).toString('hex')}`;
    offers = 0;
    stands = [];
    const store = engine.make(namespace);
    const watched = interpose(store, {
      finishAndClaim: async (outcomes, claim) => {
        const result = await store.finishAndClaim(outcomes, claim);
        if (claim?.offerUntil !== undefined && result.jobs.length < claim.limit) offers++;
        if (claim?.offerUntil !== undefined) stands.push(claim.offerStands === true);
        return result;
      },
    });
    sundial = createSundial({ store: watched });
    sundial.on('error', ({ error }) => onError(error));
  });
  afterEach(async () => {
    await sundial.close({ graceMs: 0 });
    await dropNamespace(engine.name, { SUNDIAL_URL: engine.url, SUNDIAL_NAMESPACE: namespace });
    expect(reported.splice(0)).toEqual([]);
  });

  it('an idle worker runs what adds hand it; once closed it is handed nothing', async () => {
    const ran: string[] = [];
    let finish = () => {};
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = sundial.worker(
      'q',
      {
        task: async (_payload, { job }) => {
          ran.push(job.id);
          await gate;
        },
      },
      { pollMs: 60_000 },
    );
    await offered(); // its first claim finds nothing and offers its slots
    const q = sundial.queue('q');
    const handed = await q.add('task', {});
    // Claimed for it by the add itself, before anything told it.
    expect(await q.getJob(handed.id)).toMatchObject({ state: 'active', leaseOwner: worker.id });
    finish();
    await waitFor(async () => (await q.getJob(handed.id))?.state === 'completed', {
      message: 'the handed job',
    });
    expect(ran).toEqual([handed.id]);

    await worker.close();
    const after = await q.add('task', {});
    expect((await q.getJob(after.id))!.state).toBe('waiting');
    expect(ran).toEqual([handed.id]);
  });

  it('handed jobs one at a time, a worker writes its offer again only once half of it is used up, and is handed every job', async () => {
    sundial.worker('q', { task: async () => {} }, { concurrency: 4, pollMs: 60_000 });
    await offered();
    const q = sundial.queue('q');
    for (let n = 0; n < 12; n++) {
      const job = await q.add('task', {});
      // Claimed for it by the add: the offer it counted on was there.
      expect((await q.getJob(job.id))!.state).not.toBe('waiting');
      await waitFor(async () => (await q.getJob(job.id))?.state === 'completed', { message: `job ${n}` });
    }
    // Four slots offered: two handed jobs leave two, still half; the third's outcome offers anew.
    // So about one claim in three writes the offer, the first one included.
    const written = stands.filter((standing) => !standing).length;
    expect(written).toBeGreaterThanOrEqual(4);
    expect(written).toBeLessThanOrEqual(6);
    expect(stands.length).toBeGreaterThanOrEqual(12);
  });

  it('with handoff turned off, an offer is not taken and the job waits for a claim; a bad value is refused by name', async () => {
    const store = engine.make(namespace, { handoff: false });
    // A worker `w` listens through a store that hands: an offer of `w` that got stored would be taken.
    const stop = await sundial.store.handoff!.receive('w', () => {});
    try {
      expect(store.handoff).toBeUndefined();
      await store.init();
      const now = Date.now();
      await store.claimJobs({
        queue: 'q',
        owner: 'w',
        limit: 5,
        now,
        leaseExpiresAt: now + 30_000,
        offerUntil: now + 60_000,
      });
      const [job] = await sundial.store.addJobs([newJob({ createdAt: now })]);
      expect((await store.getJob(job!.id))!.state).toBe('waiting');
    } finally {
      await stop();
      await store.close();
    }
    expect(() => engine.make(namespace, { handoff: 'no' as unknown as boolean })).toThrow(
      /store\.handoff.*"no"/,
    );
  });

  it('a job handed while the worker releases its orphans, and released with them, is not also run by it', async () => {
    // A store like the test's, whose release lets an add hand the worker a job first, and whose
    // reconnect signal the test gives.
    const store = engine.make(namespace);
    let reconnected = () => {};
    let adding: Promise<unknown> | null = null;
    const app = createSundial({
      store: interpose(store, {
        subscribe: (name, listener) => {
          if (name === RECONNECTS_CHANNEL) reconnected = listener;
          return store.subscribe(name, listener);
        },
        releaseOrphans: async (request) => {
          // Handed to the worker (its offer stands) a moment before the release reads.
          adding = sundial.queue('q').add('task', {});
          const job = (await adding) as Job;
          await waitFor(async () => (await sundial.queue('q').getJob(job.id))?.state === 'active');
          await new Promise((resolve) => setTimeout(resolve, 200)); // its message arrives meanwhile
          return store.releaseOrphans(request);
        },
      }),
    });
    app.on('error', ({ error }) => onError(error));
    const ran: { id: string; attempt: number }[] = [];
    try {
      app.worker(
        'q',
        { task: async (_payload, { job }) => void ran.push({ id: job.id, attempt: job.attempt }) },
        { pollMs: 200 },
      );
      await new Promise((resolve) => setTimeout(resolve, 500)); // its first claim offers its slots
      reconnected();
      await waitFor(() => adding !== null);
      const job = (await adding!) as Job;
      const done = await waitFor(async () => {
        const now = await sundial.queue('q').getJob(job.id);
        return now?.state === 'completed' ? now : null;
      });
      // Released with the orphans, then claimed and run once: not also run from its late message.
      expect(done.history.map((record) => [record.attempt, record.outcome])).toEqual([
        [1, 'released'],
        [2, 'completed'],
      ]);
      expect(ran).toEqual([{ id: job.id, attempt: 2 }]);
    } finally {
      await app.close({ graceMs: 0 });
    }
  });

  it('handed more than it has room for: the rest go back to waiting, for a worker with room', async () => {
    const release: (() => void)[] = [];
    const started: string[] = [];
    const worker = sundial.worker(
      'q',
      {
        task: (_payload, { job }) =>
          new Promise<void>((resolve) => {
            started.push(job.id);
            release.push(resolve);
          }),
      },
      { concurrency: 1, pollMs: 60_000 },
    );
    await offered();
    // An offer larger than its free slots, as a claim under way when jobs were handed leaves.
    const now = Date.now();
    await sundial.store.claimJobs({
      queue: 'q',
      owner: worker.id,
      limit: 3,
      now,
      leaseExpiresAt: now + 30_000,
      offerUntil: now + 60_000,
    });
    const q = sundial.queue('q');
    const jobs = await q.addBulk([{ name: 'task' }, { name: 'task' }, { name: 'task' }]);
    await waitFor(() => started.length === 1, { message: 'the first to start' });
    await waitFor(async () => (await q.counts()).waiting === 2, { message: 'two given back' });
    expect(await q.counts()).toMatchObject({ active: 1, waiting: 2 });
    for (let n = 1; n <= 3; n++) {
      await waitFor(() => release.length === 1, { message: `job ${n} to start` });
      release.shift()!();
    }
    await waitFor(async () => (await q.counts()).completed === 3, { message: 'all three to complete' });
    expect(new Set(started)).toEqual(new Set(jobs.map((job) => job.id)));
    // At most one kept (none if a claim of its own was under way as they came): the others ran
    // after going back, each once.
    const outcomes = (await Promise.all(jobs.map((job) => q.getJob(job.id)))).map((job) =>
      job!.history.map((record) => record.outcome).join(','),
    );
    expect(outcomes.filter((outcome) => outcome === 'released,completed').length).toBeGreaterThanOrEqual(2);
    expect(outcomes.every((outcome) => outcome === 'completed' || outcome === 'released,completed')).toBe(
      true,
    );
  });

  it('a handed job with too little lease left for its first heartbeat goes back to waiting, then runs', async () => {
    const started: string[] = [];
    const worker = sundial.worker(
      'q',
      { task: (_payload, { job }) => void started.push(job.id) },
      {
        pollMs: 60_000,
        leaseMs: 10_000,
      },
    );
    await offered();
    const q = sundial.queue('q');
    // Added (as its clock said) 6 s ago: a lease of 10 s counted from then has 4 s left.
    const sixSecondsAgo = Date.now() - 6000;
    const [added] = await sundial.store.addJobs([
      newJob({ name: 'task', payload: '{}', runAt: sixSecondsAgo, createdAt: sixSecondsAgo }),
    ]);
    await waitFor(async () => (await q.getJob(added!.id))?.state === 'completed', {
      message: 'the job to run',
    });
    expect((await q.getJob(added!.id))!.history.map((record) => [record.outcome, record.worker])).toEqual([
      ['released', worker.id],
      ['completed', worker.id],
    ]);
    expect(started).toEqual([added!.id]);
  });
});
