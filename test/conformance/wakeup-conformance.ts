import { describe, expect, it } from 'vitest';
import { CANCELS_CHANNEL } from '../../src/store/index.ts';
import { newJob, type StoreHarness, T0, useStoreUnderTest } from './conformance-helpers.ts';

/** The role of wake-ups (WakeUps): the same observable behaviour on every engine. */
export function describeWakeUpConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`wakeup conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    const _claim = (limit = 10, now = T0, owner = 'w1', queue = 'q') =>
      store.claimJobs({ queue, owner, limit, now, leaseExpiresAt: now + 30_000 });

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
