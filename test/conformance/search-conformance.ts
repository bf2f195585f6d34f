import { describe, expect, it } from 'vitest';
import type { Job, JobError } from '../../src/core/index.ts';
import type { FindJobsRequest, Store } from '../../src/store/index.ts';
import { newJob, type StoreHarness, T0, useStoreUnderTest } from './store-conformance.ts';

/** Every job of a search, walking its pages with the cursor. */
export async function findAll(store: Store, request: Omit<FindJobsRequest, 'after'>): Promise<Job[]> {
  const jobs: Job[] = [];
  let after: string | null = null;
  do {
    const page = await store.findJobs({ ...request, after });
    jobs.push(...page.jobs);
    after = page.next;
  } while (after !== null);
  return jobs;
}

/** Claims and fails `ids`' jobs (of queue `q`, all waiting) into the dead-letter queue, with `error`. */
export async function killJobs(store: Store, count: number, queue: string, error: JobError): Promise<void> {
  for (let done = 0; done < count; ) {
    const claimed = await store.claimJobs({
      queue,
      owner: 'killer',
      limit: Math.min(1000, count - done),
      now: T0,
      leaseExpiresAt: T0 + 60_000,
    });
    if (claimed.length === 0) throw new Error(`only ${done} of ${count} jobs were claimable`);
    await store.finishJobs(
      claimed.map((job) => ({
        kind: 'dead' as const,
        id: job.id,
        owner: 'killer',
        attempt: job.attempt,
        finishedAt: T0 + 1,
        error,
        record: {
          attempt: job.attempt,
          outcome: 'failed',
          worker: 'killer',
          startedAt: T0,
          finishedAt: T0 + 1,
        },
        deadLetter: { reason: 'unrecoverable', at: T0 + 1, failures: 1, stalls: 0, queue },
      })),
    );
    done += claimed.length;
  }
}

/** The search role (`JobSearch`): every engine finds, pages and counts the same jobs. */
export function describeSearchConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`search conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    /** 12 jobs in `q` (names a/b by parity, created a second apart), 3 in `other`. */
    async function seed(): Promise<string[]> {
      const added = await store.addJobs(
        Array.from({ length: 12 }, (_, i) =>
          newJob({
            name: i % 2 === 0 ? 'a' : 'b',
            payload: JSON.stringify({ n: i, note: i === 7 ? 'Invoice ÉTÉ-42 for ACME' : 'plain' }),
            createdAt: T0 + i * 1000,
          }),
        ),
      );
      await store.addJobs([
        newJob({ queue: 'other' }),
        newJob({ queue: 'other' }),
        newJob({ queue: 'other' }),
      ]);
      return added.map((job) => job.id);
    }

    const ids = (jobs: Job[]) => jobs.map((job) => job.id);

    it('finds by state, name, creation time and text, in id order either way, only in its queue', async () => {
      const all = await seed();
      await killJobs(store, 2, 'q', { name: 'TimeoutError', message: 'Gateway said NO', category: 'error' });
      const base = { queue: 'q', order: 'asc' as const, limit: 100 };
      expect(ids((await store.findJobs(base)).jobs)).toEqual(all);
      expect(ids((await store.findJobs({ ...base, order: 'desc' })).jobs)).toEqual([...all].reverse());
      expect(ids((await store.findJobs({ ...base, states: ['dead'] })).jobs)).toEqual(all.slice(0, 2));
      expect(ids((await store.findJobs({ ...base, states: ['dead', 'waiting'] })).jobs)).toEqual(all);
      expect(ids((await store.findJobs({ ...base, states: ['completed'] })).jobs)).toEqual([]);
      expect(ids((await store.findJobs({ ...base, name: 'b' })).jobs)).toEqual(
        all.filter((_, i) => i % 2 === 1),
      );
      expect(
        ids((await store.findJobs({ ...base, createdFrom: T0 + 3000, createdTo: T0 + 6000 })).jobs),
      ).toEqual(all.slice(3, 6));
      // Text: ASCII letters in either case, other letters as they are; payload and error both.
      expect(ids((await store.findJobs({ ...base, text: 'acme' })).jobs)).toEqual([all[7]]);
      expect(ids((await store.findJobs({ ...base, text: 'ÉTÉ-42' })).jobs)).toEqual([all[7]]);
      expect(ids((await store.findJobs({ ...base, text: 'été-42' })).jobs)).toEqual([]);
      expect(ids((await store.findJobs({ ...base, text: 'gateway said no' })).jobs)).toEqual(all.slice(0, 2));
      expect(ids((await store.findJobs({ ...base, text: 'timeouterror', name: 'b' })).jobs)).toEqual([
        all[1],
      ]);
      // Characters that mean something to LIKE, Lua patterns or SQL are plain text.
      for (const hostile of ['%', '_', '.*', '%a', "'; DROP TABLE jobs; --", '[', '\\']) {
        expect(ids((await store.findJobs({ ...base, text: hostile })).jobs)).toEqual([]);
      }
      expect(ids((await store.findJobs({ ...base, queue: 'other' })).jobs)).toHaveLength(3);
      expect(ids((await store.findJobs({ ...base, queue: 'none' })).jobs)).toEqual([]);
    });

    it('pages with a cursor: each job once, in order, whatever the page size', async () => {
      const all = await seed();
      for (const order of ['asc', 'desc'] as const) {
        for (const limit of [1, 5, 12, 13]) {
          const seen = await findAll(store, { queue: 'q', order, limit });
          expect(ids(seen)).toEqual(order === 'asc' ? all : [...all].reverse());
        }
      }
      const evens = await findAll(store, { queue: 'q', order: 'desc', limit: 2, name: 'a' });
      expect(ids(evens)).toEqual(all.filter((_, i) => i % 2 === 0).reverse());
    });

    it('walks several states as one, in id order, past the per-call bound of any engine', async () => {
      // 2,500 jobs, every third delayed, names alternating: more than one bounded look on any engine.
      const added = await store.addJobs(
        Array.from({ length: 2500 }, (_, i) =>
          newJob({
            name: i % 2 === 0 ? 'even' : 'odd',
            state: i % 3 === 0 ? 'delayed' : 'waiting',
            runAt: T0 + 60_000,
          }),
        ),
      );
      const all = added.map((job) => job.id);
      for (const order of ['asc', 'desc'] as const) {
        const seen = await findAll(store, { queue: 'q', order, limit: 700, states: ['waiting', 'delayed'] });
        expect(ids(seen)).toEqual(order === 'asc' ? all : [...all].reverse());
        const odd = await findAll(store, {
          queue: 'q',
          order,
          limit: 300,
          states: ['delayed', 'waiting'],
          name: 'odd',
        });
        const expected = all.filter((_, i) => i % 2 === 1);
        expect(ids(odd)).toEqual(order === 'asc' ? expected : [...expected].reverse());
      }
      expect(
        await store.countMatching({ queue: 'q', states: ['waiting', 'delayed'], name: 'even' }, 10_000),
      ).toEqual({
        count: 1250,
        exact: true,
      });
    });

    it('pages stay stable while jobs change state: none seen twice, none that kept matching missed', async () => {
      const added = await store.addJobs(Array.from({ length: 300 }, () => newJob()));
      const all = added.map((job) => job.id);
      const seenAll: string[] = [];
      const seenWaiting: string[] = [];
      let afterAll: string | null = null;
      let afterWaiting: string | null = null;
      let doneAll = false;
      let doneWaiting = false;
      let round = 0;
      do {
        if (!doneAll) {
          const page = await store.findJobs({ queue: 'q', order: 'asc', limit: 40, after: afterAll });
          seenAll.push(...ids(page.jobs));
          afterAll = page.next;
          doneAll = page.next === null;
        }
        if (!doneWaiting) {
          const page = await store.findJobs({
            queue: 'q',
            order: 'desc',
            limit: 40,
            after: afterWaiting,
            states: ['waiting'],
          });
          seenWaiting.push(...ids(page.jobs));
          afterWaiting = page.next;
          doneWaiting = page.next === null;
        }
        // Between pages, workers take the oldest waiting jobs and finish half of them.
        const claimed = await store.claimJobs({
          queue: 'q',
          owner: 'w',
          limit: 25,
          now: T0 + round,
          leaseExpiresAt: T0 + 60_000,
        });
        await store.finishJobs(
          claimed.slice(0, 12).map((job) => ({
            kind: 'completed' as const,
            id: job.id,
            owner: 'w',
            attempt: job.attempt,
            finishedAt: T0 + round,
            result: 'null',
            record: {
              attempt: job.attempt,
              outcome: 'completed',
              worker: 'w',
              startedAt: T0,
              finishedAt: T0 + round,
            },
          })),
        );
        round++;
      } while (!doneAll || !doneWaiting);
      // Every job matches "any state" throughout: each is seen exactly once.
      expect(seenAll).toEqual(all);
      // Waiting, newest first: no job twice, only jobs that were waiting, and every job still
      // waiting at the end (so waiting throughout) was seen.
      expect(new Set(seenWaiting).size).toBe(seenWaiting.length);
      const stillWaiting = ids(
        await findAll(store, { queue: 'q', order: 'asc', limit: 100, states: ['waiting'] }),
      );
      expect(stillWaiting.length).toBeGreaterThan(0);
      for (const id of stillWaiting) expect(seenWaiting).toContain(id);
    });

    it('counts matches exactly below the cap, and says "at least" at it', async () => {
      await seed();
      await killJobs(store, 3, 'q', { name: 'Error', message: 'boom', category: 'error' });
      expect(await store.countMatching({ queue: 'q' }, 1000)).toEqual({ count: 12, exact: true });
      expect(await store.countMatching({ queue: 'q', states: ['dead'] }, 1000)).toEqual({
        count: 3,
        exact: true,
      });
      expect(await store.countMatching({ queue: 'q', states: ['waiting', 'dead'] }, 1000)).toEqual({
        count: 12,
        exact: true,
      });
      expect(await store.countMatching({ queue: 'q', name: 'a' }, 1000)).toEqual({ count: 6, exact: true });
      expect(await store.countMatching({ queue: 'q', text: 'BOOM' }, 1000)).toEqual({
        count: 3,
        exact: true,
      });
      expect(await store.countMatching({ queue: 'q', text: 'plain' }, 5)).toEqual({ count: 5, exact: false });
      expect(await store.countMatching({ queue: 'q' }, 12)).toEqual({ count: 12, exact: true });
      expect(await store.countMatching({ queue: 'q' }, 11)).toEqual({ count: 11, exact: false });
    });

    it('forgets a queue only once it holds no job: its pause flag goes and it is no longer listed', async () => {
      const [job] = await store.addJobs([newJob({ queue: 'gone' })]);
      await store.setQueuePaused('gone', true);
      expect(await store.forgetQueue('gone')).toBe(false);
      expect(await store.listQueues()).toContain('gone');
      expect(await store.isQueuePaused('gone')).toBe(true);
      await store.removeJob(job!.id, { queue: 'gone', from: ['waiting'] });
      expect(await store.forgetQueue('gone')).toBe(true);
      expect(await store.isQueuePaused('gone')).toBe(false);
      expect(await store.listQueues()).not.toContain('gone');
      expect(await store.forgetQueue('never-used')).toBe(true);
    });
  });
}
