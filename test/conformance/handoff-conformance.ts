import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/core/index.ts';
import type { Handoff, Store } from '../../src/store/index.ts';
import { waitFor } from '../helpers.ts';
import { newJob, type StoreHarness, T0 } from './store-conformance.ts';

const LEASE_MS = 30_000;

/**
 * Direct handoff (`Store.handoff`), for the engines that have it: an add hands its job to an idle
 * worker that offered its free slots, in the add's own atomic step, but only when that keeps the
 * claim order and only to a worker that still listens.
 */
/**
 * What an engine's size limits let it hand: `handsLongEscapedPayload`, whether a payload of 5,000 characters
 * that doubles when JSON-escaped is handed (Redis counts the payload itself against 64 KB;
 * PostgreSQL counts its escaped texts against a notification's 8000 bytes, and passes it over).
 */
export interface HandoffLimits {
  handsLongEscapedPayload: boolean;
}

export function describeHandoffConformance(
  engine: string,
  makeStore: () => Promise<StoreHarness>,
  limits: HandoffLimits,
): void {
  describe(`direct handoff: ${engine}`, () => {
    let harness: StoreHarness;
    let store: Store;
    let handoff: Handoff;
    const stops: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
      await store.init();
      handoff = store.handoff!;
      expect(handoff).toBeDefined();
    });
    afterEach(async () => {
      await Promise.all(stops.splice(0).map((stop) => stop()));
      await harness.cleanup();
    });

    /** Listens as `owner`: what it was handed, delivery by delivery. */
    async function listen(owner: string): Promise<{ deliveries: Job[][]; stop: () => Promise<void> }> {
      const deliveries: Job[][] = [];
      const stop = await handoff.receive(owner, (jobs) => deliveries.push(jobs));
      stops.push(stop);
      return { deliveries, stop };
    }

    /** A claim by `owner` that offers what it leaves free until `offerUntil`. */
    const offer = (owner: string, limit: number, now = T0, offerUntil = T0 + 60_000) =>
      store.claimJobs({ queue: 'q', owner, limit, now, leaseExpiresAt: now + LEASE_MS, offerUntil });

    const stateOf = async (id: string) => (await store.getJob(id))!.state;

    it('hands a job added to an idle worker in the add itself, up to the slots it offered', async () => {
      const { deliveries } = await listen('w1');
      expect(await offer('w1', 2)).toEqual([]);
      const [first] = await store.addJobs([
        newJob({
          payload: '{"n":1}',
          createdAt: T0 + 10,
          dedupeKey: 'k1',
          timeout: 5_000,
          origin: '{"schedule":"nightly","firedAt":1}',
        }),
      ]);
      // Already claimed when the add returns: no wake-up and no claim round trip in between.
      expect(await store.getJob(first!.id)).toMatchObject({
        state: 'active',
        attempt: 1,
        leaseOwner: 'w1',
        leaseExpiresAt: T0 + 10 + LEASE_MS,
      });
      await waitFor(() => deliveries.length === 1, { message: 'the handed job to arrive' });
      expect(deliveries[0]).toMatchObject([
        { id: first!.id, state: 'active', attempt: 1, leaseOwner: 'w1', payload: { n: 1 } },
      ]);
      // The job as delivered is the job as stored, every field (the JSON ones parsed alike).
      expect(deliveries[0]).toEqual([await store.getJob(first!.id)]);

      const [second, third] = await store.addJobs([
        newJob({ createdAt: T0 + 20 }),
        newJob({ createdAt: T0 + 20 }),
      ]);
      expect(await stateOf(second!.id)).toBe('active');
      // The offer was two slots: the third waits to be claimed.
      expect(await stateOf(third!.id)).toBe('waiting');
      await waitFor(() => deliveries.length === 2, { message: 'the second handed job' });
      expect(deliveries[1]!.map((job) => job.id)).toEqual([second!.id]);
    });

    it('hands a batch of adds to one worker, delivered in order', async () => {
      const { deliveries } = await listen('w1');
      await offer('w1', 5);
      const added = await store.addJobs([newJob(), newJob(), newJob()]);
      await waitFor(() => deliveries.flat().length === 3, { message: 'the deliveries' });
      expect(deliveries.flat().map((job) => job.id)).toEqual(added.map((job) => job.id));
    });

    it('hands nothing that would jump the claim order: an older waiting job, a due delayed one, a paused queue', async () => {
      const { deliveries } = await listen('w1');
      await offer('w1', 5);
      await store.setQueuePaused('q', true);
      const [whilePaused] = await store.addJobs([newJob({ priority: 9 })]);
      expect(await stateOf(whilePaused!.id)).toBe('waiting');
      await store.setQueuePaused('q', false);
      // The job added while paused is claimed first (higher priority): the new one is not handed.
      const [behindIt] = await store.addJobs([newJob()]);
      expect(await stateOf(behindIt!.id)).toBe('waiting');
      expect(
        (await store.claimJobs({ queue: 'q', owner: 'w2', limit: 1, now: T0, leaseExpiresAt: T0 + 1 }))[0]!
          .id,
      ).toBe(whilePaused!.id);
      await store.claimJobs({ queue: 'q', owner: 'w2', limit: 1, now: T0, leaseExpiresAt: T0 + 1 });

      // A delayed job that is due by the add's time comes first too.
      await store.addJobs([newJob({ state: 'delayed', runAt: T0 + 100 })]);
      const [afterDue] = await store.addJobs([newJob({ createdAt: T0 + 200 })]);
      expect(await stateOf(afterDue!.id)).toBe('waiting');
      expect(deliveries).toEqual([]);
    });

    it('hands nothing to a worker that stopped listening (its offer goes) or whose offer lapsed', async () => {
      const gone = await listen('gone');
      await offer('gone', 5);
      await gone.stop();
      const [job] = await store.addJobs([newJob()]);
      expect(await stateOf(job!.id)).toBe('waiting');
      await store.claimJobs({ queue: 'q', owner: 'w2', limit: 1, now: T0, leaseExpiresAt: T0 + 1 });
      // The offer went when the add found nobody listening: back, it is handed nothing without a new one.
      const back = await listen('gone');
      const [next] = await store.addJobs([newJob()]);
      expect(await stateOf(next!.id)).toBe('waiting');
      expect([...gone.deliveries, ...back.deliveries]).toEqual([]);

      const lapsed = await listen('lapsed');
      await offer('lapsed', 5, T0, T0 + 100);
      const [late] = await store.addJobs([newJob({ createdAt: T0 + 101 })]);
      expect(await stateOf(late!.id)).toBe('waiting');
      expect(lapsed.deliveries).toEqual([]);
    });

    it('hands to whichever listening worker offers the most free slots', async () => {
      const small = await listen('small');
      const large = await listen('large');
      await offer('small', 1);
      await offer('large', 3);
      const [job] = await store.addJobs([newJob()]);
      expect((await store.getJob(job!.id))!.leaseOwner).toBe('large');
      await waitFor(() => large.deliveries.length === 1, { message: 'the delivery' });
      expect(small.deliveries).toEqual([]);
    });

    it('a claim that fills its limit withdraws the offer; one that does not renews it', async () => {
      await listen('w1');
      await offer('w1', 2);
      await store.setQueuePaused('q', true);
      await store.addJobs([newJob(), newJob()]);
      await store.setQueuePaused('q', false);
      expect(await offer('w1', 2)).toHaveLength(2);
      const [notHanded] = await store.addJobs([newJob()]);
      expect(await stateOf(notHanded!.id)).toBe('waiting');
      // Takes it and offers the slot left over.
      expect(await offer('w1', 2)).toHaveLength(1);
      const [handed] = await store.addJobs([newJob()]);
      expect(await stateOf(handed!.id)).toBe('active');
    });

    it('a claim whose offer stands leaves it as it is when it takes nothing, and replaces it when it takes jobs', async () => {
      await listen('w1');
      const standing = (limit: number) =>
        store.claimJobs({
          queue: 'q',
          owner: 'w1',
          limit,
          now: T0,
          leaseExpiresAt: T0 + LEASE_MS,
          offerUntil: T0 + 60_000,
          offerStands: true,
        });
      await offer('w1', 2);
      const [first] = await store.addJobs([newJob()]);
      expect(await stateOf(first!.id)).toBe('active'); // one slot of the two left
      // Takes nothing: the offer stays at one slot, not the five this claim could have offered.
      expect(await standing(5)).toEqual([]);
      const [second] = await store.addJobs([newJob()]);
      const [third] = await store.addJobs([newJob()]);
      expect(await stateOf(second!.id)).toBe('active');
      expect(await stateOf(third!.id)).toBe('waiting');
      // Takes the waiting job: the offer is replaced by what this claim leaves free, two of three.
      expect((await standing(3)).map((job) => job.id)).toEqual([third!.id]);
      const states: string[] = [];
      for (let n = 0; n < 3; n++) {
        const [job] = await store.addJobs([newJob()]);
        states.push(await stateOf(job!.id));
      }
      expect(states).toEqual(['active', 'active', 'waiting']);
    });

    it('a claim whose offer stands writes it all the same when the store holds none (it lapsed or was dropped)', async () => {
      await listen('w1');
      await store.claimJobs({
        queue: 'q',
        owner: 'w1',
        limit: 2,
        now: T0,
        leaseExpiresAt: T0 + LEASE_MS,
        offerUntil: T0 + 60_000,
        offerStands: true,
      });
      const [job] = await store.addJobs([newJob()]);
      expect(await stateOf(job!.id)).toBe('active');
    });

    it('releaseOrphans ends the offer and gives back what was handed but is not held, naming those runs', async () => {
      await listen('w1');
      await offer('w1', 3);
      const [kept, unknown] = await store.addJobs([newJob(), newJob()]);
      const released = await store.releaseOrphans({
        queue: 'q',
        owner: 'w1',
        held: [kept!.id],
        now: T0 + 50,
      });
      expect(released).toEqual([{ id: unknown!.id, attempt: 1 }]);
      expect(await stateOf(kept!.id)).toBe('active');
      const given = await store.getJob(unknown!.id);
      expect(given).toMatchObject({ state: 'waiting', attempt: 1 });
      expect(given!.history).toMatchObject([
        { attempt: 1, outcome: 'released', worker: 'w1', finishedAt: T0 + 50 },
      ]);
      // Nothing waits before the next add, and still it is not handed: the offer is gone.
      await store.claimJobs({ queue: 'q', owner: 'w2', limit: 1, now: T0 + 50, leaseExpiresAt: T0 + 30_000 });
      const [after] = await store.addJobs([newJob()]);
      expect(await stateOf(after!.id)).toBe('waiting');
      expect(await store.releaseOrphans({ queue: 'q', owner: 'w1', held: [kept!.id], now: T0 + 60 })).toEqual(
        [],
      );
    });

    it('a job whose delivery never reached its worker is an orphan its owner recovers after the lease', async () => {
      await listen('w1'); // hears the delivery but, like a cut connection, does nothing with it
      await offer('w1', 1);
      const [job] = await store.addJobs([newJob()]);
      expect(await stateOf(job!.id)).toBe('active');
      const before = await store.recoverStalled({
        now: T0 + LEASE_MS - 1,
        queue: 'q',
        exceptOwner: 'w1',
        exceptHeld: [],
      });
      expect(before).toEqual([]);
      const after = await store.recoverStalled({
        now: T0 + LEASE_MS + 1,
        queue: 'q',
        exceptOwner: 'w1',
        exceptHeld: [],
      });
      expect(after).toMatchObject([{ id: job!.id, recovered: true }]);
      expect(await stateOf(job!.id)).toBe('waiting');
    });

    it('a payload that grows when escaped is added all the same, and arrives intact where the engine hands it', async () => {
      const { deliveries } = await listen('w1');
      await offer('w1', 1);
      const text = '"\\'.repeat(2500);
      const [job] = await store.addJobs([newJob({ payload: JSON.stringify({ text }) })]);
      const stored = await store.getJob(job!.id);
      expect(stored!.payload).toEqual({ text });
      if (limits.handsLongEscapedPayload) {
        expect(stored!.state).toBe('active');
        await waitFor(() => deliveries.length === 1, { message: 'the delivery' });
        expect(deliveries[0]![0]!.payload).toEqual({ text });
      } else {
        expect(stored!.state).toBe('waiting');
        expect(deliveries).toEqual([]);
      }
    });

    it('hands nothing with a large payload, which goes through a claim', async () => {
      const { deliveries } = await listen('w1');
      await offer('w1', 1);
      const [big] = await store.addJobs([newJob({ payload: JSON.stringify({ text: 'x'.repeat(70_000) }) })]);
      expect(await stateOf(big!.id)).toBe('waiting');
      expect(deliveries).toEqual([]);
    });
  });
}
