import { afterEach, describe, expect, it } from 'vitest';
import { createSundial, SqliteStore, type Store, type Sundial } from '../../src/index.ts';
import { storeFromEnv } from '../fixtures/store-from-env.ts';
import { interpose, sleep, waitFor } from '../helpers.ts';
import { enginesUnderTest, useSharedStore } from '../process/children.ts';

/**
 * The worker keeps as many finish-and-claim rounds under way as its store's `pipelineDepth` (one on
 * SQLite, two on a server), splitting its free slots between them. What a user relies on: no job
 * runs twice, every outcome is stored, and the worker never holds more jobs than its concurrency
 * plus prefetch, however the rounds interleave.
 */
describe.each(await enginesUnderTest())('worker rounds on %s', (engine) => {
  const shared = useSharedStore(engine);
  let observed: Sundial | null = null;
  afterEach(async () => {
    await observed?.close({ graceMs: 0 });
    observed = null;
  });

  /** A Sundial on the shared store whose finish-and-claim calls are counted as they overlap. */
  function watchedSundial() {
    const opened = storeFromEnv(shared.env);
    const store: Store = 'engine' in opened ? opened : new SqliteStore(opened);
    const rounds = { underWay: 0, most: 0, limits: [] as number[], claiming: 0, mostClaiming: 0 };
    const watched = interpose(store, {
      finishAndClaim: async (outcomes, claim) => {
        rounds.underWay++;
        rounds.most = Math.max(rounds.most, rounds.underWay);
        const limit = claim?.limit ?? 0;
        if (claim) rounds.limits.push(limit);
        rounds.claiming += limit;
        rounds.mostClaiming = Math.max(rounds.mostClaiming, rounds.claiming);
        try {
          return await store.finishAndClaim(outcomes, claim);
        } finally {
          rounds.underWay--;
          rounds.claiming -= limit;
        }
      },
    });
    observed = createSundial({ store: watched });
    return { sundial: observed, store, rounds };
  }

  it('drains a burst with its rounds overlapping up to the store depth, each job run once', async () => {
    const { sundial, store, rounds } = watchedSundial();
    const q = sundial.queue('q');
    const added = await q.addBulk(Array.from({ length: 2000 }, (_, n) => ({ name: 'noop', payload: { n } })));
    const ran: string[] = [];
    sundial.worker(
      'q',
      { noop: async (_payload, ctx) => void ran.push(ctx.job.id) },
      {
        concurrency: 10,
        prefetch: 10,
      },
    );
    await waitFor(async () => (await q.counts()).completed === 2000, { timeoutMs: 60_000 });
    expect(ran.sort()).toEqual(added.map((job) => job.id).sort());
    const depth = engine === 'sqlite' ? 1 : 2;
    expect(store.pipelineDepth).toBe(depth);
    expect(rounds.most).toBe(depth);
    // While the queue has more, each round claims at most its share of the slots; once a claim came
    // back short, one claims at a time, for all of them. Together they never ask for more.
    expect(rounds.limits[0]).toBeLessThanOrEqual(Math.ceil(20 / depth));
    expect(rounds.mostClaiming).toBeLessThanOrEqual(20);
    for (const offset of [0, 1000]) {
      const jobs = await q.listJobs('completed', { limit: 1000, offset });
      expect(jobs.filter((job) => job.attempt !== 1 || job.history.length !== 1)).toEqual([]);
    }
  });

  it('takes one round at a time from a store that does not declare pipelineDepth', async () => {
    const opened = storeFromEnv(shared.env);
    const store: Store = 'engine' in opened ? opened : new SqliteStore(opened);
    let underWay = 0;
    let most = 0;
    observed = createSundial({
      store: interpose(store, {
        pipelineDepth: undefined,
        finishAndClaim: async (outcomes, claim) => {
          most = Math.max(most, ++underWay);
          try {
            return await store.finishAndClaim(outcomes, claim);
          } finally {
            underWay--;
          }
        },
      }),
    });
    const q = observed.queue('q');
    await q.addBulk(Array.from({ length: 200 }, () => ({ name: 'noop' })));
    observed.worker('q', { noop: async () => {} }, { concurrency: 5, prefetch: 5 });
    await waitFor(async () => (await q.counts()).completed === 200, { timeoutMs: 30_000 });
    expect(most).toBe(1);
  });

  it('sits still on an empty queue, and a wake-up still reaches it', async () => {
    const { sundial, rounds } = watchedSundial();
    // A one-minute poll: within this test only a wake-up can bring the job in.
    sundial.worker('q', { noop: async () => {} }, { concurrency: 10, prefetch: 10, pollMs: 60_000 });
    await sleep(1000);
    // The first rounds (one per share of the slots, and again for the wake-ups of starting up)
    // found nothing, and it stopped there: a few rounds, then none, where a spin makes hundreds.
    const settled = rounds.limits.length;
    expect(settled).toBeGreaterThan(0);
    expect(settled).toBeLessThanOrEqual(8);
    await sleep(500);
    expect(rounds.limits.length).toBe(settled);
    await sundial.queue('q').add('noop');
    await waitFor(async () => (await sundial.queue('q').counts()).completed === 1, { timeoutMs: 20_000 });
  });

  it('does not lose a wake-up that comes while a claim that looked too early is under way', async () => {
    const opened = storeFromEnv(shared.env);
    const store: Store = 'engine' in opened ? opened : new SqliteStore(opened);
    let open!: () => void;
    let gate: Promise<void> | null = new Promise<void>((resolve) => {
      open = resolve;
    });
    let held = 0;
    observed = createSundial({
      store: interpose(store, {
        // The first round looks (finding nothing) and is then held, as if slow to answer.
        finishAndClaim: async (outcomes, claim) => {
          const result = await store.finishAndClaim(outcomes, claim);
          if (gate) {
            held++;
            await gate;
          }
          return result;
        },
      }),
    });
    // One slot, so the held round's claim covers it and the wake-up cannot start another round;
    // a one-minute poll, so only that wake-up can bring the job in within the test.
    observed.worker('q', { noop: async () => {} }, { concurrency: 1, pollMs: 60_000 });
    await waitFor(() => held > 0);
    await observed.queue('q').add('noop');
    // Every wake-up the add sends (in-process, and through the server or the wake file) arrives
    // while the round is still held.
    await sleep(500);
    gate = null;
    open();
    await waitFor(async () => (await observed!.queue('q').counts()).completed === 1, { timeoutMs: 20_000 });
  });

  it('never holds more jobs than concurrency plus prefetch while rounds overlap', async () => {
    const { sundial } = watchedSundial();
    const q = sundial.queue('q');
    await q.addBulk(Array.from({ length: 30 }, () => ({ name: 'gated' })));
    const gates: (() => void)[] = [];
    const worker = sundial.worker(
      'q',
      { gated: () => new Promise<void>((resolve) => gates.push(resolve)) },
      { concurrency: 3, prefetch: 2 },
    );
    // Let a few jobs finish one by one, each freeing a slot while other rounds may be under way.
    for (let done = 0; done < 10; done++) {
      await waitFor(async () => gates.length > 0 && (await q.counts()).active === 5, {
        message: 'five jobs held (three running, two claimed ahead)',
      });
      expect(gates.length).toBeLessThanOrEqual(3);
      gates.shift()!();
    }
    await waitFor(async () => (await q.counts()).completed === 10);
    await waitFor(async () => (await q.counts()).active === 5);
    await worker.close({ graceMs: 0 });
    expect(await q.counts()).toMatchObject({ completed: 10, active: 0, waiting: 20 });
  });
});

describe.each(await enginesUnderTest())('single adds in one turn on %s', (engine) => {
  const shared = useSharedStore(engine);

  it('keep their order: ids follow the order of the add() calls, however the burst is split', async () => {
    const q = shared.sundial.queue('q');
    const added = await Promise.all(Array.from({ length: 300 }, (_, n) => q.add('noop', { n })));
    const ids = added.map((job) => BigInt(job.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const stored = await q.listJobs('waiting', { limit: 300 });
    expect(stored.map((job) => (job.payload as { n: number }).n)).toEqual(added.map((_, n) => n));
  });
});
