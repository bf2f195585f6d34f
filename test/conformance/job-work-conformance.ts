import { describe, expect, it } from 'vitest';
import { type JobOutcome, STALLED_ERROR } from '../../src/store/index.ts';
import {
  claimFrom,
  ERROR,
  newJob,
  record,
  type StoreHarness,
  T0,
  useStoreUnderTest,
} from './conformance-helpers.ts';

/** The role of the job work (JobWork): adding, dedupe, claiming, finishing, leases: the same observable behaviour on every engine. */
export function describeJobWorkConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`job work conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    const claim = (...args: [number?, number?, string?, string?]) => claimFrom(store, ...args);

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
  });
}
