import { describe, expect, it } from 'vitest';
import {
  claimFrom,
  ERROR,
  newJob,
  record,
  type StoreHarness,
  T0,
  useStoreUnderTest,
} from './conformance-helpers.ts';

/** The role of managing jobs and queues (JobManagement, QueueSettings): the same observable behaviour on every engine. */
export function describeManagementConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`management conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    const claim = (...args: [number?, number?, string?, string?]) => claimFrom(store, ...args);

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
  });
}
