import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRecord, BackoffSpec, JobError } from '../../src/core/index.ts';
import {
  CANCELS_CHANNEL,
  type JobOutcome,
  type NewJob,
  SCHEDULES_CHANNEL,
  STALLED_ERROR,
  type Store,
} from '../../src/store/index.ts';

export interface StoreHarness {
  store: Store;
  /** Another connection to the same data, as another process would have. */
  connect: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/** A harness whose stores come from `make` (all on one namespace): the first, and more on `connect`. */
export function harnessOf(make: () => Store, cleanup: () => Promise<void>): StoreHarness {
  return {
    store: make(),
    connect: async () => {
      const other = make();
      await other.init();
      return other;
    },
    cleanup,
  };
}

/** The suite's epoch: every time in it is T0 plus something. */
export const T0 = Date.UTC(2026, 0, 1);
const NO_BACKOFF: BackoffSpec = { type: 'none' };

/** A job to add, with `overrides`; engine-specific tests use it too. */
export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    queue: 'q',
    name: 'work',
    payload: '{"n":1}',
    state: 'waiting',
    priority: 0,
    runAt: T0,
    maxAttempts: 3,
    backoff: NO_BACKOFF,
    timeout: null,
    dedupeKey: null,
    maxStalls: 1,
    origin: null,
    createdAt: T0,
    ...overrides,
  };
}

function record(attempt: number, outcome: AttemptRecord['outcome'], worker = 'w1'): AttemptRecord {
  return { attempt, outcome, worker, startedAt: T0, finishedAt: T0 + 5 };
}

const ERROR: JobError = { name: 'Error', message: 'boom', category: 'error' };

/**
 * Gives each test of the enclosing `describe` an empty, initialised store of its own, cleaned up
 * afterwards; the returned function reads the current test's harness.
 */
export function useFreshStore(makeStore: () => Promise<StoreHarness>): () => StoreHarness {
  let harness: StoreHarness;
  beforeEach(async () => {
    harness = await makeStore();
    await harness.store.init();
  });
  afterEach(async () => {
    await harness.cleanup();
  });
  return () => harness;
}

/**
 * The contract every store engine must meet, with the same observable behaviour. Each engine's test
 * file calls this with a factory that makes an empty store.
 */
export function describeStoreConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`store conformance: ${engine}`, () => {
    const current = useFreshStore(makeStore);
    let store: Store;
    beforeEach(() => {
      store = current().store;
    });

    const claim = (limit = 10, now = T0, owner = 'w1', queue = 'q') =>
      store.claimJobs({ queue, owner, limit, now, leaseExpiresAt: now + 30_000 });

    describe('adding and reading jobs', () => {
      it('stores every field of a new job and reads it back', async () => {
        const [added] = await store.addJobs([
          newJob({ priority: 7, timeout: 500, dedupeKey: 'k', backoff: { type: 'fixed', delay: 20 } }),
        ]);
        expect(added!.duplicate).toBe(false);
        const job = await store.getJob(added!.id);
        expect(job).toMatchObject({
          id: added!.id,
          queue: 'q',
          name: 'work',
          payload: { n: 1 },
          state: 'waiting',
          priority: 7,
          runAt: T0,
          attempt: 0,
          maxAttempts: 3,
          failures: 0,
          backoff: { type: 'fixed', delay: 20 },
          timeout: 500,
          dedupeKey: 'k',
          stalls: 0,
          maxStalls: 1,
          leaseOwner: null,
          result: null,
          error: null,
          deadLetter: null,
          history: [],
          origin: null,
          createdAt: T0,
          startedAt: null,
          finishedAt: null,
        });
      });

      it('keeps where a job came from', async () => {
        const origin = { schedule: 'tick', scheduledFor: T0, catchUp: true };
        const [added] = await store.addJobs([newJob({ origin: JSON.stringify(origin) })]);
        expect((await store.getJob(added!.id))!.origin).toEqual(origin);
      });

      it('returns null for an unknown id, or one that only looks like an id', async () => {
        const [added] = await store.addJobs([newJob()]);
        expect(await store.getJob('999999')).toBeNull();
        expect(await store.getJob(`${added!.id}.0`)).toBeNull();
        expect(await store.getJob(` ${added!.id}`)).toBeNull();
        expect(await store.getJob('')).toBeNull();
      });

      it('gives ids in insertion order', async () => {
        const added = await store.addJobs([newJob(), newJob(), newJob()]);
        const ids = added.map((a) => Number(a.id));
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(3);
      });
    });

    describe('dedupe', () => {
      it('returns the live holder instead of inserting a second job with the key', async () => {
        const [first] = await store.addJobs([newJob({ dedupeKey: 'same' })]);
        const [second] = await store.addJobs([newJob({ dedupeKey: 'same', payload: '{"n":2}' })]);
        expect(second).toEqual({ id: first!.id, duplicate: true });
        expect((await store.countJobs('q')).waiting).toBe(1);
      });

      it('dedupes within one batch', async () => {
        const added = await store.addJobs([newJob({ dedupeKey: 'b' }), newJob({ dedupeKey: 'b' }), newJob()]);
        expect(added[1]).toEqual({ id: added[0]!.id, duplicate: true });
        expect(added[2]!.duplicate).toBe(false);
      });

      it('scopes keys to one queue', async () => {
        const added = await store.addJobs([
          newJob({ dedupeKey: 'x' }),
          newJob({ dedupeKey: 'x', queue: 'other' }),
        ]);
        expect(added.map((a) => a.duplicate)).toEqual([false, false]);
      });

      it('holds the key while delayed, failed or active, and frees it once finished', async () => {
        const [a] = await store.addJobs([newJob({ dedupeKey: 'k' })]);
        const [job] = await claim();
        expect((await store.addJobs([newJob({ dedupeKey: 'k' })]))[0]!.duplicate).toBe(true);
        await store.finishJobs([
          {
            kind: 'retry',
            id: a!.id,
            owner: 'w1',
            attempt: job!.attempt,
            finishedAt: T0,
            runAt: T0 + 1000,
            error: ERROR,
            record: record(1, 'failed'),
          },
        ]);
        expect((await store.addJobs([newJob({ dedupeKey: 'k' })]))[0]!.duplicate).toBe(true);
        const [again] = await claim(10, T0 + 1000);
        await store.finishJobs([
          {
            kind: 'completed',
            id: a!.id,
            owner: 'w1',
            attempt: again!.attempt,
            finishedAt: T0 + 1001,
            result: 'null',
            record: record(2, 'completed'),
          },
        ]);
        const [fresh] = await store.addJobs([newJob({ dedupeKey: 'k' })]);
        expect(fresh!.duplicate).toBe(false);
        expect(fresh!.id).not.toBe(a!.id);
      });
    });

    describe('claiming', () => {
      it('claims by priority (high first), then run-at, then id', async () => {
        const added = await store.addJobs([
          newJob({ payload: '"low-early"', priority: 0, runAt: T0 - 100 }),
          newJob({ payload: '"high-late"', priority: 5, runAt: T0 }),
          newJob({ payload: '"low-later"', priority: 0, runAt: T0 - 50 }),
          newJob({ payload: '"high-early"', priority: 5, runAt: T0 - 10 }),
          newJob({ payload: '"low-early-2"', priority: 0, runAt: T0 - 100 }),
        ]);
        const claimed = await claim(10);
        expect(claimed.map((j) => j.payload)).toEqual([
          'high-early',
          'high-late',
          'low-early',
          'low-early-2',
          'low-later',
        ]);
        expect(claimed[2]!.id).toBe(added[0]!.id);
      });

      it('claims at most `limit` jobs and marks them active under the owner and lease', async () => {
        await store.addJobs([newJob(), newJob(), newJob()]);
        const claimed = await store.claimJobs({
          queue: 'q',
          owner: 'me',
          limit: 2,
          now: T0 + 1,
          leaseExpiresAt: T0 + 999,
        });
        expect(claimed).toHaveLength(2);
        for (const job of claimed) {
          expect(job).toMatchObject({
            state: 'active',
            attempt: 1,
            leaseOwner: 'me',
            leaseExpiresAt: T0 + 999,
            startedAt: T0 + 1,
          });
        }
        expect(await store.countJobs('q')).toMatchObject({ waiting: 1, active: 2 });
      });

      it('never hands one job to two claimers on separate connections', async () => {
        await store.addJobs(Array.from({ length: 50 }, () => newJob()));
        const connections = [store, await current().connect(), await current().connect()];
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            connections[i % 3]!.claimJobs({
              queue: 'q',
              owner: `w${i}`,
              limit: 7,
              now: T0,
              leaseExpiresAt: T0 + 1000,
            }),
          ),
        );
        const ids = claims.flat().map((j) => j.id);
        expect(ids).toHaveLength(50);
        expect(new Set(ids).size).toBe(50);
      });

      it('leaves delayed jobs until they are due', async () => {
        await store.addJobs([newJob({ state: 'delayed', runAt: T0 + 5000 })]);
        expect(await claim(10, T0 + 4999)).toHaveLength(0);
        expect(await store.nextRunAt('q')).toBe(T0 + 5000);
        const [job] = await claim(10, T0 + 5000);
        expect(job!.state).toBe('active');
        expect(await store.nextRunAt('q')).toBeNull();
      });

      it('tells a claim that came up short when the next scheduled job is due', async () => {
        const request = (now: number) => ({
          queue: 'q',
          owner: 'w1',
          limit: 10,
          now,
          leaseExpiresAt: now + 30_000,
        });
        await store.addJobs([
          newJob({ state: 'delayed', runAt: T0 - 1 }),
          newJob({ state: 'delayed', runAt: T0 + 5000 }),
          newJob({ state: 'delayed', runAt: T0 + 9000, queue: 'other' }),
        ]);
        // The due job is claimed, so the next one due is the later one, of this queue only.
        const first = await store.finishAndClaim([], request(T0));
        expect(first.jobs).toHaveLength(1);
        expect(first.nextRunAt).toBe(T0 + 5000);
        // A retry stored in the same round counts as soon as it is due first, or the engine leaves
        // it to nextRunAt (undefined), never an answer that misses it.
        const retried = await store.finishAndClaim(
          [
            {
              kind: 'retry',
              id: first.jobs[0]!.id,
              owner: 'w1',
              attempt: 1,
              finishedAt: T0 + 1,
              runAt: T0 + 100,
              error: ERROR,
              record: record(1, 'failed'),
            },
          ],
          request(T0 + 1),
        );
        expect(retried.applied).toEqual([true]);
        expect([T0 + 100, undefined]).toContain(retried.nextRunAt);
        expect(await store.nextRunAt('q')).toBe(T0 + 100);
        expect((await store.finishAndClaim([], request(T0 + 6000))).nextRunAt).toBeNull();
      });

      it('only claims from its own queue', async () => {
        await store.addJobs([newJob({ queue: 'other' })]);
        expect(await claim()).toHaveLength(0);
        expect(await claim(10, T0, 'w1', 'other')).toHaveLength(1);
      });

      it('claims nothing from a paused queue until it is resumed', async () => {
        await store.addJobs([newJob()]);
        await store.setQueuePaused('q', true);
        expect(await store.isQueuePaused('q')).toBe(true);
        expect(await claim()).toHaveLength(0);
        await store.setQueuePaused('q', false);
        expect(await store.isQueuePaused('q')).toBe(false);
        expect(await claim()).toHaveLength(1);
      });
    });

    describe('finishing', () => {
      async function claimOne() {
        await store.addJobs([newJob()]);
        const [job] = await claim();
        return job!;
      }

      it('completes a held job with its result and an attempt record', async () => {
        const job = await claimOne();
        const rec = record(1, 'completed');
        const [applied] = await store.finishJobs([
          {
            kind: 'completed',
            id: job.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: T0 + 5,
            result: '{"ok":true}',
            record: rec,
          },
        ]);
        expect(applied).toBe(true);
        expect(await store.getJob(job.id)).toMatchObject({
          state: 'completed',
          result: { ok: true },
          finishedAt: T0 + 5,
          leaseOwner: null,
          leaseExpiresAt: null,
          history: [rec],
        });
      });

      it('schedules a retry: failed until due, counting the failure', async () => {
        const job = await claimOne();
        await store.finishJobs([
          {
            kind: 'retry',
            id: job.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: T0 + 5,
            runAt: T0 + 100,
            error: ERROR,
            record: { ...record(1, 'failed'), error: ERROR },
          },
        ]);
        expect(await store.getJob(job.id)).toMatchObject({
          state: 'failed',
          runAt: T0 + 100,
          failures: 1,
          error: ERROR,
        });
        expect(await store.nextRunAt('q')).toBe(T0 + 100);
        expect(await claim(10, T0 + 99)).toHaveLength(0);
        const [again] = await claim(10, T0 + 100);
        expect(again).toMatchObject({ id: job.id, attempt: 2, failures: 1 });
      });

      it('buries a job as dead with its dead-letter metadata', async () => {
        const job = await claimOne();
        const deadLetter = {
          reason: 'attempts_exhausted' as const,
          at: T0 + 5,
          failures: 1,
          stalls: 0,
          queue: 'q',
        };
        await store.finishJobs([
          {
            kind: 'dead',
            id: job.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: T0 + 5,
            error: ERROR,
            deadLetter,
            record: record(1, 'failed'),
          },
        ]);
        expect(await store.getJob(job.id)).toMatchObject({
          state: 'dead',
          deadLetter,
          error: ERROR,
          finishedAt: T0 + 5,
          failures: 1,
        });
      });

      it('refuses outcomes from a worker that no longer holds the lease or for another run', async () => {
        const job = await claimOne();
        const completed = (owner: string, attempt: number): JobOutcome => ({
          kind: 'completed',
          id: job.id,
          owner,
          attempt,
          finishedAt: T0,
          result: 'null',
          record: record(attempt, 'completed', owner),
        });
        expect(await store.finishJobs([completed('intruder', 1), completed('w1', 2)])).toEqual([
          false,
          false,
        ]);
        expect((await store.getJob(job.id))!.state).toBe('active');
        expect(await store.finishJobs([completed('w1', 1)])).toEqual([true]);
        expect(await store.finishJobs([completed('w1', 1)])).toEqual([false]);
      });
    });

    describe('finishing and claiming together', () => {
      it('applies the outcomes, then claims, and reports both', async () => {
        await store.addJobs([newJob({ payload: '1' }), newJob({ payload: '2' }), newJob({ payload: '3' })]);
        const [first] = await claim(1);
        const result = await store.finishAndClaim(
          [
            {
              kind: 'completed',
              id: first!.id,
              owner: 'w1',
              attempt: 1,
              finishedAt: T0 + 1,
              result: '"done"',
              record: record(1, 'completed'),
            },
            {
              kind: 'completed',
              id: first!.id,
              owner: 'w1',
              attempt: 1,
              finishedAt: T0 + 1,
              result: '"again"',
              record: record(1, 'completed'),
            },
          ],
          { queue: 'q', owner: 'w1', limit: 5, now: T0 + 1, leaseExpiresAt: T0 + 1000 },
        );
        expect(result.applied).toEqual([true, false]);
        expect(result.jobs.map((j) => j.payload)).toEqual([2, 3]);
        expect(await store.getJob(first!.id)).toMatchObject({ state: 'completed', result: 'done' });
      });

      it('only finishes when there is no claim', async () => {
        await store.addJobs([newJob(), newJob()]);
        const [job] = await claim(1);
        const result = await store.finishAndClaim(
          [
            {
              kind: 'completed',
              id: job!.id,
              owner: 'w1',
              attempt: 1,
              finishedAt: T0,
              result: 'null',
              record: record(1, 'completed'),
            },
          ],
          null,
        );
        expect(result).toEqual({ applied: [true], jobs: [] });
        expect((await store.countJobs('q')).waiting).toBe(1);
      });
    });

    describe('leases', () => {
      it('renews only the leases the owner still holds', async () => {
        await store.addJobs([newJob(), newJob()]);
        const [a, b] = await claim();
        await store.cancelJob(b!.id, { queue: 'q', from: ['active'], now: T0 });
        const held = await store.renewLeases(
          'w1',
          [
            { id: a!.id, attempt: 1 },
            { id: b!.id, attempt: 1 },
          ],
          T0 + 60_000,
        );
        expect(held).toEqual([a!.id]);
        expect((await store.getJob(a!.id))!.leaseExpiresAt).toBe(T0 + 60_000);
        expect(await store.renewLeases('someone-else', [{ id: a!.id, attempt: 1 }], T0 + 90_000)).toEqual([]);
        // A later run of the same job under the same owner is not this run's to renew.
        expect(await store.renewLeases('w1', [{ id: a!.id, attempt: 2 }], T0 + 90_000)).toEqual([]);
      });

      it('releases held jobs back to waiting with a released record', async () => {
        await store.addJobs([newJob()]);
        const [job] = await claim();
        expect(await store.releaseJobs('w1', [job!.id], T0 + 7)).toBe(1);
        const released = await store.getJob(job!.id);
        expect(released).toMatchObject({ state: 'waiting', leaseOwner: null, attempt: 1 });
        expect(released!.history).toEqual([
          { attempt: 1, outcome: 'released', worker: 'w1', startedAt: T0, finishedAt: T0 + 7 },
        ]);
        const [again] = await claim();
        expect(again!.attempt).toBe(2);
      });

      it('releases the jobs active under an owner that it does not hold, counting no stall', async () => {
        await store.addJobs([newJob(), newJob(), newJob(), newJob(), newJob({ queue: 'other' })]);
        const [held, lost1, lost2] = await claim(3, T0, 'w1');
        const [others] = await claim(1, T0, 'w2');
        const [elsewhere] = await claim(1, T0, 'w1', 'other');
        const released = await store.releaseOrphans({
          queue: 'q',
          owner: 'w1',
          held: [held!.id],
          now: T0 + 9,
        });
        const byId = (a: { id: string }, b: { id: string }) => Number(a.id) - Number(b.id);
        expect(released.sort(byId)).toEqual(
          [lost1!, lost2!].map((job) => ({ id: job.id, attempt: 1 })).sort(byId),
        );
        for (const lost of [lost1!, lost2!]) {
          const job = await store.getJob(lost.id);
          expect(job).toMatchObject({
            state: 'waiting',
            leaseOwner: null,
            leaseExpiresAt: null,
            stalls: 0,
            attempt: 1,
          });
          expect(job!.history).toEqual([
            { attempt: 1, outcome: 'released', worker: 'w1', startedAt: T0, finishedAt: T0 + 9 },
          ]);
        }
        // What it holds, another owner's and another queue's jobs are left alone.
        for (const job of [held!, others!, elsewhere!])
          expect((await store.getJob(job.id))!.state).toBe('active');
        expect(
          await store.releaseOrphans({ queue: 'q', owner: 'w1', held: [held!.id], now: T0 + 10 }),
        ).toEqual([]);
        // The released jobs are claimable again at once.
        expect((await claim(10, T0 + 10, 'w3')).map((job) => job.id).sort()).toEqual(
          [lost1!.id, lost2!.id].sort(),
        );
      });

      it('leaves the leases of the owner that asks alone', async () => {
        await store.addJobs([newJob(), newJob()]);
        await store.claimJobs({ queue: 'q', owner: 'me', limit: 1, now: T0, leaseExpiresAt: T0 + 10 });
        const [other] = await store.claimJobs({
          queue: 'q',
          owner: 'gone',
          limit: 1,
          now: T0,
          leaseExpiresAt: T0 + 10,
        });
        const stalled = await store.recoverStalled({ now: T0 + 100, exceptOwner: 'me' });
        expect(stalled.map((job) => job.id)).toEqual([other!.id]);
      });

      it('recovers an owner’s leases it does not know it holds (a claim whose answer was lost)', async () => {
        await store.addJobs([newJob(), newJob()]);
        const [known, orphan] = await store.claimJobs({
          queue: 'q',
          owner: 'me',
          limit: 2,
          now: T0,
          leaseExpiresAt: T0 + 10,
        });
        const stalled = await store.recoverStalled({
          now: T0 + 100,
          exceptOwner: 'me',
          exceptHeld: [known!.id],
        });
        expect(stalled).toEqual([{ id: orphan!.id, queue: 'q', name: 'work', recovered: true }]);
        expect((await store.getJob(known!.id))!.state).toBe('active');
        expect((await store.getJob(orphan!.id))!.state).toBe('waiting');
      });

      it('recovers jobs whose lease expired, and buries them after maxStalls', async () => {
        await store.addJobs([newJob({ maxStalls: 1 })]);
        const [job] = await store.claimJobs({
          queue: 'q',
          owner: 'dead-worker',
          limit: 1,
          now: T0,
          leaseExpiresAt: T0 + 1000,
        });
        expect(await store.recoverStalled({ now: T0 + 1000 })).toEqual([]);
        expect(await store.recoverStalled({ now: T0 + 1001, queue: 'other' })).toEqual([]);
        expect(await store.recoverStalled({ now: T0 + 1001, queue: 'q' })).toEqual([
          { id: job!.id, queue: 'q', name: 'work', recovered: true },
        ]);
        expect(await store.getJob(job!.id)).toMatchObject({ state: 'waiting', stalls: 1, leaseOwner: null });

        await store.claimJobs({
          queue: 'q',
          owner: 'dead-again',
          limit: 1,
          now: T0 + 2000,
          leaseExpiresAt: T0 + 3000,
        });
        expect(await store.recoverStalled({ now: T0 + 3001 })).toEqual([
          { id: job!.id, queue: 'q', name: 'work', recovered: false },
        ]);
        const dead = await store.getJob(job!.id);
        expect(dead).toMatchObject({
          state: 'dead',
          stalls: 2,
          finishedAt: T0 + 3001,
          deadLetter: { reason: 'stalled', at: T0 + 3001, failures: 0, stalls: 2, queue: 'q' },
          // The same error on every engine.
          error: STALLED_ERROR,
        });
        expect(dead!.history.map((h) => [h.attempt, h.outcome, h.worker])).toEqual([
          [1, 'stalled', 'dead-worker'],
          [2, 'stalled', 'dead-again'],
        ]);
      });
    });

    describe('managing jobs', () => {
      it('counts jobs by state and lists them a page at a time', async () => {
        await store.addJobs(Array.from({ length: 7 }, (_, i) => newJob({ payload: String(i) })));
        await store.addJobs([newJob({ state: 'delayed', runAt: T0 + 10_000 })]);
        await claim(2);
        expect(await store.countJobs('q')).toEqual({
          waiting: 5,
          delayed: 1,
          active: 2,
          failed: 0,
          completed: 0,
          dead: 0,
          cancelled: 0,
        });
        const page1 = await store.listJobs({ queue: 'q', state: 'waiting', limit: 2 });
        const page2 = await store.listJobs({ queue: 'q', state: 'waiting', limit: 2, offset: 2 });
        expect(page1.map((j) => j.payload)).toEqual([2, 3]);
        expect(page2.map((j) => j.payload)).toEqual([4, 5]);
        const newest = await store.listJobs({ queue: 'q', limit: 1, order: 'desc' });
        expect(newest[0]!.state).toBe('delayed');
        expect(await store.listJobs({ queue: 'q' })).toHaveLength(8);
      });

      it('retries a dead job with a fresh budget', async () => {
        await store.addJobs([newJob()]);
        const [job] = await claim();
        await store.finishJobs([
          {
            kind: 'dead',
            id: job!.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: T0,
            error: ERROR,
            record: record(1, 'failed'),
            deadLetter: { reason: 'unrecoverable', at: T0, failures: 1, stalls: 0, queue: 'q' },
          },
        ]);
        const result = await store.retryJob(job!.id, { queue: 'q', from: ['dead', 'failed'], now: T0 + 50 });
        expect(result.ok).toBe(true);
        expect(await store.getJob(job!.id)).toMatchObject({
          state: 'waiting',
          failures: 0,
          runAt: T0 + 50,
          deadLetter: null,
          finishedAt: null,
        });
      });

      it('reports why a transition was refused, and changes nothing', async () => {
        const [a] = await store.addJobs([newJob()]);
        expect(await store.retryJob(a!.id, { queue: 'q', from: ['dead'], now: T0 })).toEqual({
          ok: false,
          reason: 'state',
          state: 'waiting',
        });
        expect(await store.removeJob(a!.id, { queue: 'other', from: ['waiting'] })).toEqual({
          ok: false,
          reason: 'not_found',
        });
        expect(await store.cancelJob('424242', { queue: 'q', from: ['waiting'], now: T0 })).toEqual({
          ok: false,
          reason: 'not_found',
        });
        expect((await store.getJob(a!.id))!.state).toBe('waiting');
      });

      it('refuses to retry a job whose dedupe key a newer live job holds', async () => {
        const [a] = await store.addJobs([newJob({ dedupeKey: 'k' })]);
        await store.cancelJob(a!.id, { queue: 'q', from: ['waiting'], now: T0 });
        const [b] = await store.addJobs([newJob({ dedupeKey: 'k' })]);
        expect(await store.retryJob(a!.id, { queue: 'q', from: ['cancelled'], now: T0 })).toEqual({
          ok: false,
          reason: 'duplicate',
          holder: b!.id,
        });
      });

      it('records the interrupted run when a running job is cancelled', async () => {
        await store.addJobs([newJob()]);
        const [job] = await claim();
        await store.cancelJob(job!.id, { queue: 'q', from: ['active'], now: T0 + 9 });
        const cancelled = await store.getJob(job!.id);
        expect(cancelled).toMatchObject({ state: 'cancelled', leaseOwner: null, finishedAt: T0 + 9 });
        expect(cancelled!.history).toEqual([
          { attempt: 1, outcome: 'cancelled', worker: 'w1', startedAt: T0, finishedAt: T0 + 9 },
        ]);
      });

      it('cancels and removes jobs', async () => {
        const [a, b] = await store.addJobs([newJob(), newJob()]);
        const cancelled = await store.cancelJob(a!.id, { queue: 'q', from: ['waiting'], now: T0 + 3 });
        expect(cancelled).toMatchObject({ ok: true, job: { state: 'cancelled', finishedAt: T0 + 3 } });
        const removed = await store.removeJob(b!.id, { queue: 'q', from: ['waiting'] });
        expect(removed).toMatchObject({ ok: true, job: { id: b!.id } });
        expect(await store.getJob(b!.id)).toBeNull();
      });

      it('prunes finished jobs older than the cut-off, only in the given states', async () => {
        const added = await store.addJobs(Array.from({ length: 4 }, () => newJob()));
        const jobs = await claim(4);
        await store.finishJobs(
          jobs.slice(0, 3).map((job, i) => ({
            kind: 'completed' as const,
            id: job.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: T0 + i * 100,
            result: 'null',
            record: record(1, 'completed'),
          })),
        );
        await store.cancelJob(jobs[3]!.id, { queue: 'q', from: ['active'], now: T0 });
        expect(await store.pruneJobs({ queue: 'q', states: ['completed'], finishedBefore: T0 + 150 })).toBe(
          2,
        );
        expect(await store.getJob(added[2]!.id)).not.toBeNull();
        expect(await store.countJobs('q')).toMatchObject({ completed: 1, cancelled: 1 });
        expect(await store.pruneJobs({ queue: 'q', states: ['cancelled'], finishedBefore: T0 + 1 })).toBe(1);
      });

      it('prunes past one chunk, old jobs among newer ones, and keeps the newer ones', async () => {
        const total = 12_000;
        for (let at = 0; at < total; at += 4000)
          await store.addJobs(Array.from({ length: 4000 }, () => newJob()));
        const jobs = await claim(total);
        // Every other job finished late: a pruning pass must step over them, not stop at them.
        await store.finishJobs(
          jobs.map((job, i) => ({
            kind: 'completed' as const,
            id: job.id,
            owner: 'w1',
            attempt: 1,
            finishedAt: i % 2 === 0 ? T0 : T0 + 1000,
            result: 'null',
            record: record(1, 'completed'),
          })),
        );
        expect(await store.pruneJobs({ queue: 'q', states: ['completed'], finishedBefore: T0 + 500 })).toBe(
          total / 2,
        );
        expect(await store.countJobs('q')).toMatchObject({ completed: total / 2 });
        const kept = await store.listJobs({ queue: 'q', state: 'completed', limit: 10 });
        expect(kept.every((job) => job.finishedAt === T0 + 1000)).toBe(true);
      });

      it('hands out payloads of any text unchanged through a claim', async () => {
        const payload = {
          text: 'ü 雪 🎉 </script> "quoted" back\\slash \u2028 tab\t nul\u0000',
          n: 2 ** 53 - 1,
        };
        await store.addJobs([newJob({ payload: JSON.stringify(payload) })]);
        const [job] = await claim(1);
        expect(job!.payload).toEqual(payload);
      });

      it('lists queues that have jobs or a pause flag', async () => {
        await store.addJobs([newJob({ queue: 'a' }), newJob({ queue: 'b' })]);
        await store.setQueuePaused('c', true);
        expect(await store.listQueues()).toEqual(['a', 'b', 'c']);
      });
    });

    describe('schedules', () => {
      const sync = (id: string, specHash: string, nextRunAt: number | null) =>
        store.syncSchedules([{ id, specHash, nextRunAt }], T0);

      it('inserts new schedules, updates changed specs and keeps unchanged ones as they are', async () => {
        await sync('a', 'h1', T0 + 1000);
        await sync('b', 'h1', null);
        await sync('a', 'h1', T0 + 5000); // same spec: keeps its own next run
        expect((await store.listSchedules()).map((s) => [s.id, s.nextRunAt, s.paused])).toEqual([
          ['a', T0 + 1000, false],
          ['b', null, false],
        ]);
        await sync('a', 'h2', T0 + 7000); // new spec: takes the new next run
        expect((await store.listSchedules())[0]).toMatchObject({
          id: 'a',
          specHash: 'h2',
          nextRunAt: T0 + 7000,
        });
      });

      it('knows the next time anything is due, ignoring schedules that never run', async () => {
        await sync('late', 'h', T0 + 300);
        await sync('early', 'h', T0 + 100);
        await sync('never', 'h', null);
        expect(await store.nextScheduleRunAt()).toBe(T0 + 100);
      });

      it('fires an occurrence once: the compare-and-set lets exactly one of many racers win', async () => {
        await sync('tick', 'h', T0 + 1000);
        const job = newJob({ queue: 'ticks', dedupeKey: `tick@${T0 + 1000}` });
        const racers = [store, await current().connect(), await current().connect()];
        const results = await Promise.all(
          racers.map((racer) =>
            racer.fireSchedule({
              id: 'tick',
              expectedNextRunAt: T0 + 1000,
              nextRunAt: T0 + 2000,
              firedAt: T0 + 1001,
              jobs: [job],
            }),
          ),
        );
        expect(results.filter((r) => r.fired)).toHaveLength(1);
        expect(results.find((r) => r.fired)!.added).toHaveLength(1);
        expect((await store.countJobs('ticks')).waiting).toBe(1);
        expect((await store.listSchedules())[0]).toMatchObject({
          nextRunAt: T0 + 2000,
          lastRunAt: T0 + 1001,
        });
        expect(await store.nextScheduleRunAt()).toBe(T0 + 2000);
      });

      it('does not fire a paused schedule, and resumes it', async () => {
        await sync('p', 'h', T0 + 10);
        expect(await store.setSchedulePaused('p', true, 'maintenance window', T0)).toBe(true);
        expect(await store.nextScheduleRunAt()).toBeNull();
        const fire = () =>
          store.fireSchedule({
            id: 'p',
            expectedNextRunAt: T0 + 10,
            nextRunAt: T0 + 20,
            firedAt: T0,
            jobs: [],
          });
        expect((await fire()).fired).toBe(false);
        expect((await store.listSchedules())[0]).toMatchObject({ paused: true, note: 'maintenance window' });
        await store.setSchedulePaused('p', false, null, T0);
        expect((await fire()).fired).toBe(true);
        expect(await store.setSchedulePaused('missing', true, null, T0)).toBe(false);
      });

      it('resumes a schedule at a given next run, so the paused time is not replayed', async () => {
        await sync('r', 'h', T0);
        await store.setSchedulePaused('r', true, null, T0);
        await store.setSchedulePaused('r', false, null, T0 + 3_600_000, T0 + 3_660_000);
        expect((await store.listSchedules())[0]).toMatchObject({ paused: false, nextRunAt: T0 + 3_660_000 });
      });

      it('with whenActive, buffers one job behind an active holder or replaces it, in the same step', async () => {
        await sync('b', 'h', T0);
        await sync('r', 'h', T0);
        const fire = (id: string, at: number, whenActive: 'buffer' | 'replace') =>
          store.fireSchedule({
            id,
            expectedNextRunAt: at,
            nextRunAt: at + 60_000,
            firedAt: at,
            jobs: [newJob({ queue: id, dedupeKey: id, origin: `{"at":${at}}` })],
            whenActive,
          });
        const start = (queue: string, at: number) =>
          store.claimJobs({ queue, owner: 'w1', limit: 10, now: at, leaseExpiresAt: at + 600_000 });

        // Not started yet: the holder stands for the new occurrence, whatever the policy.
        const first = (await fire('b', T0, 'buffer')).added[0]!;
        expect((await fire('b', T0 + 60_000, 'buffer')).added).toEqual([{ id: first.id, duplicate: true }]);
        await start('b', T0 + 60_000);
        const buffered = (await fire('b', T0 + 120_000, 'buffer')).added[0]!;
        expect(buffered.duplicate).toBe(false);
        expect(await store.getJob(buffered.id)).toMatchObject({ dedupeKey: 'b#next', state: 'waiting' });
        // One going and one waiting: nothing more.
        expect((await fire('b', T0 + 180_000, 'buffer')).added).toEqual([
          { id: buffered.id, duplicate: true },
        ]);

        let cancels = 0;
        const other = await current().connect();
        other.subscribe(CANCELS_CHANNEL, () => cancels++);
        const running = (await fire('r', T0, 'replace')).added[0]!;
        await start('r', T0);
        const replacing = (await fire('r', T0 + 60_000, 'replace')).added[0]!;
        expect(replacing).toMatchObject({ duplicate: false, replaced: running.id });
        expect((await store.getJob(running.id))!.state).toBe('cancelled');
        expect((await store.getJob(replacing.id))!.state).toBe('waiting');
        expect(await store.renewLeases('w1', [{ id: running.id, attempt: 1 }], T0 + 90_000)).toEqual([]);
        await waitUntil(() => cancels > 0);
      });

      it('finds the newest job each schedule fired', async () => {
        const origin = (schedule: string, at: number) =>
          JSON.stringify({ schedule, scheduledFor: at, catchUp: false });
        const [a1, , b1, a2] = await store.addJobs([
          newJob({ origin: origin('a', T0) }),
          newJob({ origin: null }),
          newJob({ queue: 'other', origin: origin('b', T0) }),
          newJob({ origin: origin('a', T0 + 60_000) }),
        ]);
        await store.cancelJob(a2!.id, { queue: 'q', from: ['waiting'], now: T0 });
        const latest = await store.latestRuns();
        expect([...latest.keys()].sort()).toEqual(['a', 'b']);
        expect(latest.get('a')).toMatchObject({ id: a2!.id, state: 'cancelled' });
        expect(latest.get('b')).toMatchObject({ id: b1!.id, queue: 'other', state: 'waiting' });
        expect(a1!.id).not.toBe(a2!.id);
      });

      it('tells schedule subscribers when definitions change', async () => {
        let calls = 0;
        store.subscribe(SCHEDULES_CHANNEL, () => calls++);
        await sync('n', 'h', T0);
        await waitUntil(() => calls > 0);
      });
    });

    describe('locks', () => {
      const owner = (pid: number) => ({ host: 'h', pid, runId: `run-${pid}` });

      it('grants a free lock with a growing fencing token, and refuses a held one', async () => {
        const first = await store.acquireLock({ name: 'backup', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(first).toMatchObject({
          name: 'backup',
          owner: owner(1),
          token: 1,
          acquiredAt: T0,
          heartbeatAt: T0,
          ttlMs: 1000,
        });
        expect(
          await store.acquireLock({ name: 'backup', owner: owner(2), ttlMs: 1000, now: T0 + 500 }),
        ).toBeNull();
        expect(await store.releaseLock('backup', 1)).toBe(true);
        const second = await store.acquireLock({
          name: 'backup',
          owner: owner(2),
          ttlMs: 1000,
          now: T0 + 600,
        });
        expect(second!.token).toBe(2);
      });

      it('lets anyone take a lock whose heartbeat is older than its TTL; the old token can no longer renew', async () => {
        await store.acquireLock({ name: 'l', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(await store.renewLock('l', 1, T0 + 900)).toBe(true);
        expect(
          await store.acquireLock({ name: 'l', owner: owner(2), ttlMs: 1000, now: T0 + 1800 }),
        ).toBeNull();
        const taken = await store.acquireLock({ name: 'l', owner: owner(2), ttlMs: 1000, now: T0 + 1901 });
        expect(taken).toMatchObject({ token: 2, owner: owner(2) });
        expect(await store.renewLock('l', 1, T0 + 2000)).toBe(false);
        expect(await store.releaseLock('l', 1)).toBe(false);
        expect((await store.listLocks()).map((l) => [l.name, l.token])).toEqual([['l', 2]]);
      });

      it('force-releases whoever holds a lock, and lists only held ones', async () => {
        await store.acquireLock({ name: 'a', owner: owner(1), ttlMs: 1000, now: T0 });
        await store.acquireLock({ name: 'b', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(await store.releaseLock('a')).toBe(true);
        expect(await store.releaseLock('a')).toBe(false);
        expect((await store.listLocks()).map((l) => l.name)).toEqual(['b']);
      });
    });

    describe('flags', () => {
      it('sets, reads and clears a store-wide flag', async () => {
        expect(await store.getFlag('maintenance')).toBeNull();
        await store.setFlag('maintenance', '{"note":"db move"}');
        expect(await store.getFlag('maintenance')).toBe('{"note":"db move"}');
        const other = await current().connect();
        expect(await other.getFlag('maintenance')).toBe('{"note":"db move"}');
        await store.setFlag('maintenance', null);
        expect(await store.getFlag('maintenance')).toBeNull();
      });
    });

    describe('wake-ups', () => {
      it('tells subscribers of a queue when jobs are added to it', async () => {
        let calls = 0;
        const unsubscribe = store.subscribe('q', () => calls++);
        await store.addJobs([newJob()]);
        await waitUntil(() => calls > 0);
        unsubscribe();
        const before = calls;
        await store.addJobs([newJob({ queue: 'q' })]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(calls).toBe(before);
      });

      it('tells cancel subscribers on other connections when an active job is cancelled, and only then', async () => {
        const other = await current().connect();
        let calls = 0;
        other.subscribe(CANCELS_CHANNEL, () => calls++);
        const [waiting, active] = await store.addJobs([newJob(), newJob()]);
        await store.claimJobs({ queue: 'q', owner: 'w1', limit: 1, now: T0, leaseExpiresAt: T0 + 30_000 });
        // The claim took the first job; cancel the one still waiting first: nobody runs it.
        const claimedId = (await store.listJobs({ queue: 'q', state: 'active' }))[0]!.id;
        const waitingId = claimedId === waiting!.id ? active!.id : waiting!.id;
        await store.cancelJob(waitingId, { queue: 'q', from: ['waiting'], now: T0 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(calls).toBe(0);
        await store.cancelJob(claimedId, { queue: 'q', from: ['active'], now: T0 });
        await waitUntil(() => calls > 0);
        // Its worker finds out by renewing: the lease is gone.
        expect(await store.renewLeases('w1', [{ id: claimedId, attempt: 1 }], T0 + 60_000)).toEqual([]);
      });
    });
  });
}

async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
