import { createSundial, type JobState, type NewJob, type Store, type Sundial } from '../../src/index.ts';
import { percentile } from '../stats.ts';
import { openStore, type StoreKind, withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

const JOBS = 1_000_000;
const QUEUE = 'admin-bench';
/** Jobs are created 10 ms apart from here: a million span about 2.8 hours. */
const T0 = Date.UTC(2026, 0, 5);
const SPACING_MS = 10;
/** How the million end up: most finished, as in a queue that has run for a while. */
const FINAL_STATES: readonly [JobState, number][] = [
  ['completed', 0.85],
  ['dead', 0.05],
  ['waiting', 0.07],
  ['delayed', 0.03],
];
const NAMES = 10;
/** Each read is timed this many times; the p95 of them is reported. */
const REPEATS = 40;

/**
 * What a dashboard or a health check asks every few seconds, on a queue of 1,000,000 jobs: the
 * counts by state, the first page of each state's listing, and the first page of a listing by name
 * and by a time range (each page with its total, as `sundial.admin.jobs.list` gives it). The
 * headline is the worst p95 of them. Issue 16's target: every one under 10 ms on every engine.
 */
export const adminReads: Workload = {
  id: 'A1',
  title: `admin reads on ${JOBS.toLocaleString('en')} jobs: worst p95 of counts and first pages`,
  metric: 'worst p95',
  unit: 'ms',
  better: 'lower',
  target: 10,
  run: (store: StoreKind) =>
    withNamespace(store, 'a1', async (spec): Promise<Sample> => {
      const sundial = createSundial({ store: openStore(spec) });
      try {
        await sundial.init();
        await seed(sundial.store);
        return await measure(sundial);
      } finally {
        await sundial.close();
      }
    }),
};

/** Adds the million jobs, then takes each one to its final state through the store's own calls. */
async function seed(store: Store): Promise<void> {
  const later = T0 + 365 * 86_400_000;
  const job = (i: number, delayed: boolean): NewJob => ({
    queue: QUEUE,
    name: `job-${i % NAMES}`,
    payload: JSON.stringify({ i, account: `acct-${i % 997}` }),
    state: delayed ? 'delayed' : 'waiting',
    priority: 0,
    runAt: delayed ? later : T0,
    maxAttempts: 1,
    backoff: { type: 'none' },
    timeout: null,
    dedupeKey: null,
    maxStalls: 1,
    origin: null,
    createdAt: T0 + i * SPACING_MS,
  });
  const delayedFrom = Math.round(JOBS * (1 - FINAL_STATES[3]![1]));
  for (let start = 0; start < JOBS; start += 5000) {
    const size = Math.min(5000, JOBS - start);
    await store.addJobs(Array.from({ length: size }, (_, k) => job(start + k, start + k >= delayedFrom)));
  }
  // The oldest jobs finish: completed, with every 18th dead; the newest waiting ones stay waiting.
  const finishing = Math.round(JOBS * (FINAL_STATES[0]![1] + FINAL_STATES[1]![1]));
  for (let done = 0; done < finishing; ) {
    const claimed = await store.claimJobs({
      queue: QUEUE,
      owner: 'seed',
      limit: Math.min(2000, finishing - done),
      now: T0,
      leaseExpiresAt: T0 + 3_600_000,
    });
    if (claimed.length === 0) throw new Error(`only ${done} of ${finishing} jobs could be claimed`);
    await store.finishJobs(
      claimed.map((claimedJob, k) => {
        const base = {
          id: claimedJob.id,
          owner: 'seed',
          attempt: claimedJob.attempt,
          finishedAt: T0 + 1,
          record: {
            attempt: 1,
            outcome: 'completed' as const,
            worker: 'seed',
            startedAt: T0,
            finishedAt: T0 + 1,
          },
        };
        if ((done + k) % 18 !== 0) return { ...base, kind: 'completed' as const, result: 'null' };
        const error = {
          name: 'Error',
          message: `upstream refused account acct-${(done + k) % 997}`,
          category: 'error' as const,
        };
        return {
          ...base,
          kind: 'dead' as const,
          error,
          record: { ...base.record, outcome: 'failed' as const },
          deadLetter: { reason: 'unrecoverable' as const, at: T0 + 1, failures: 1, stalls: 0, queue: QUEUE },
        };
      }),
    );
    done += claimed.length;
  }
}

/** Times each read `REPEATS` times; the p95 of each, in ms. */
async function measure(sundial: Sundial): Promise<Sample> {
  const queue = sundial.queue(QUEUE);
  const middle = T0 + (JOBS / 2) * SPACING_MS;
  const reads: Record<string, () => Promise<unknown>> = {
    counts: () => queue.counts(),
    ...Object.fromEntries(
      (['waiting', 'delayed', 'completed', 'dead'] as const).map((state) => [
        `page_${state}`,
        () => sundial.admin.jobs.list({ queue: QUEUE, states: [state], limit: 50 }),
      ]),
    ),
    page_by_name: () => sundial.admin.jobs.list({ queue: QUEUE, name: 'job-3', limit: 50 }),
    page_by_time: () =>
      sundial.admin.jobs.list({ queue: QUEUE, createdFrom: middle, createdTo: middle + 60_000, limit: 50 }),
  };
  const details: Record<string, number> = {};
  for (const [name, read] of Object.entries(reads)) {
    await read(); // the first read of a kind warms the statement's plan
    const times: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const started = performance.now();
      await read();
      times.push(performance.now() - started);
    }
    details[`${name}_p95_ms`] = percentile(times, 95);
  }
  const counts = await queue.counts();
  if (Object.values(counts).reduce((a, b) => a + b, 0) !== JOBS) {
    throw new Error(`expected ${JOBS} jobs, found ${JSON.stringify(counts)}`);
  }
  return { value: Math.max(...Object.values(details)), details };
}
