import { describe, expect, it } from 'vitest';
import { CANCELS_CHANNEL, SCHEDULES_CHANNEL } from '../../src/store/index.ts';
import { newJob, type StoreHarness, T0, useStoreUnderTest } from './conformance-helpers.ts';

/** The role of schedules (ScheduleStore): the same observable behaviour on every engine. */
export function describeScheduleConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`schedule conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    const _claim = (limit = 10, now = T0, owner = 'w1', queue = 'q') =>
      store.claimJobs({ queue, owner, limit, now, leaseExpiresAt: now + 30_000 });

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
  });
}

async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
