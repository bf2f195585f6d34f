import { afterEach, beforeEach } from 'vitest';
import type { AttemptRecord, BackoffSpec, JobError } from '../../src/core/index.ts';
import type { NewJob, Store } from '../../src/store/index.ts';

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

export function record(attempt: number, outcome: AttemptRecord['outcome'], worker = 'w1'): AttemptRecord {
  return { attempt, outcome, worker, startedAt: T0, finishedAt: T0 + 5 };
}

export const ERROR: JobError = { name: 'Error', message: 'boom', category: 'error' };

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
 * `useFreshStore`, with the current test's store behind one stand-in that a suite can name once:
 * every call on it goes to the store of the test under way.
 */
export function useStoreUnderTest(makeStore: () => Promise<StoreHarness>): {
  store: Store;
  current: () => StoreHarness;
} {
  const current = useFreshStore(makeStore);
  const store = new Proxy({} as Store, {
    get: (_, key) => {
      const real = current().store as unknown as Record<PropertyKey, unknown>;
      const value = real[key];
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
  return { store, current };
}

/** Claims for worker `owner` as the suites do: a 30 s lease from `now`. */
export function claimFrom(store: Store, limit = 10, now = T0, owner = 'w1', queue = 'q') {
  return store.claimJobs({ queue, owner, limit, now, leaseExpiresAt: now + 30_000 });
}
