import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/index.ts';
import {
  AT_RISK_CODE,
  durabilityWarning,
  RedisStore,
  type RedisStoreOptions,
  UNCHECKED_CODE,
} from '../../src/store/index.ts';
import { keyPattern } from '../../src/store/redis/keys.ts';
import { waitFor } from '../helpers.ts';
import { describeHandoffConformance } from './handoff-conformance.ts';
import { describeSearchConformance } from './search-conformance.ts';
import { engineUnderTest, REDIS_URL } from './servers.ts';
import { describeStoreConformance, harnessOf, newJob, T0 } from './store-conformance.ts';

/** A prefix no other test shares: tests never see each other's keys. */
function testPrefix(): string {
  return `sundial-test-${randomBytes(6).toString('hex')}`;
}

/** Deletes every key of the prefix (SCAN + DEL), as a test's cleanup. */
async function deleteKeys(prefix: string): Promise<void> {
  const admin = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', keyPattern(prefix), 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

/**
 * Stores of one prefix that report errors into `errors`, except the durability warning (the local
 * Redis runs without persistence), which goes into `warnings`.
 */
function storeFactory(prefix: string) {
  const stores: RedisStore[] = [];
  const errors: unknown[] = [];
  const warnings: unknown[] = [];
  const make = (options: RedisStoreOptions = {}) => {
    const store = new RedisStore({
      url: REDIS_URL,
      prefix,
      onError: (error) => {
        const code = (error as { code?: string }).code;
        (code === AT_RISK_CODE || code === UNCHECKED_CODE ? warnings : errors).push(error);
      },
      ...options,
    });
    stores.push(store);
    return store;
  };
  const cleanup = async () => {
    await Promise.all(stores.map((store) => store.close()));
    await deleteKeys(prefix);
  };
  return { make, cleanup, errors, warnings };
}

if (await engineUnderTest('Redis', REDIS_URL, 6379)) {
  const makeHarness = async () => {
    const prefix = testPrefix();
    const { make, cleanup, errors } = storeFactory(prefix);
    return harnessOf(make, async () => {
      await cleanup();
      expect(errors).toEqual([]);
    });
  };
  describeStoreConformance('redis', makeHarness);
  describeHandoffConformance('redis', makeHarness, { handsLongEscapedPayload: true });
  describeSearchConformance('redis', makeHarness);
}

/** Closes the connections of this store prefix from the server's side, as a restart or a network cut would. */
async function killConnections(prefix: string): Promise<number> {
  const admin = new Redis(REDIS_URL);
  try {
    const list = (await admin.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => new RegExp(`\\bname=sundial:${prefix}(\\s|:)`).test(line))
      .map((line) => /\bid=(\d+)/.exec(line)![1]!);
    for (const id of ids) await admin.client('KILL', 'ID', id);
    return ids.length;
  } finally {
    admin.disconnect();
  }
}

if (await engineUnderTest('Redis', REDIS_URL, 6379)) {
  describe('redis store', () => {
    let prefix: string;
    let factory: ReturnType<typeof storeFactory>;
    let admin: Redis;

    beforeEach(() => {
      prefix = testPrefix();
      factory = storeFactory(prefix);
      admin = new Redis(REDIS_URL);
    });
    afterEach(async () => {
      admin.disconnect();
      await factory.cleanup();
      expect(factory.errors).toEqual([]);
    });

    it("keeps every key under its prefix, and each queue's keys under that queue's hash tag", async () => {
      const store = factory.make();
      await store.init();
      const [a] = await store.addJobs([newJob({ queue: 'a' }), newJob({ queue: 'b', dedupeKey: 'k' })]);
      await store.syncSchedules([{ id: 'tick', specHash: 'h', nextRunAt: T0 }], T0);
      await store.acquireLock({ name: 'l', owner: { host: 'h', pid: 1, runId: 'r' }, ttlMs: 1000, now: T0 });
      await store.setFlag('maintenance', 'on');
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await admin.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        keys.push(...found);
        cursor = next;
      } while (cursor !== '0');
      const tags = new Set(keys.map((key) => /^(\{[^}]*\})/.exec(key)?.[1]));
      expect([...tags].sort()).toEqual([`{${prefix}:a}`, `{${prefix}:b}`, `{${prefix}}`]);
      expect(keys).toContain(`{${prefix}:a}:job:${a!.id}`);
      expect(keys).toContain(`{${prefix}:b}:dedupe`);
    });

    it('reports the eviction policy and persistence it found at init, and warns once when jobs are at risk', async () => {
      const setting = async (name: string) => ((await admin.config('GET', name)) as string[])[1]!;
      const maxmemoryPolicy = await setting('maxmemory-policy');
      const appendonly = await setting('appendonly');
      const save = await setting('save');
      const store = factory.make();
      await store.init();
      await store.init();
      expect(store.durability).toMatchObject({ maxmemoryPolicy, appendonly, save });
      const expected = durabilityWarning({ maxmemoryPolicy, appendonly, save });
      expect(factory.warnings).toEqual(expected ? [store.durability!.warning] : []);
      // The test server runs without persistence: say what that loses.
      if (appendonly === 'no' && save === '') {
        expect((factory.warnings[0] as Error).message).toMatch(/persistence is off.*restart loses every job/);
      }
    });

    it('says what each risky setting loses', () => {
      const evicting = durabilityWarning({ maxmemoryPolicy: 'allkeys-lru', appendonly: 'yes', save: '' });
      expect(evicting).toMatchObject({ code: AT_RISK_CODE });
      expect(evicting!.message).toMatch(/maxmemory-policy is allkeys-lru, not noeviction.*evict/);
      expect(evicting!.message).not.toMatch(/persistence/);
      const forgetful = durabilityWarning({ maxmemoryPolicy: 'noeviction', appendonly: 'no', save: '' });
      expect(forgetful!.message).toMatch(/persistence is off/);
      expect(durabilityWarning({ maxmemoryPolicy: 'noeviction', appendonly: 'yes', save: '' })).toBeNull();
      expect(
        durabilityWarning({ maxmemoryPolicy: 'noeviction', appendonly: 'no', save: '3600 1' }),
      ).toBeNull();
    });

    it('says it could not check when CONFIG is not permitted', async () => {
      const user = `${prefix}-no-config`;
      await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', '-config');
      try {
        const url = new URL(REDIS_URL);
        url.username = user;
        url.password = 'secret';
        const store = factory.make({ url: url.toString() });
        await store.init();
        expect(store.durability).toMatchObject({ maxmemoryPolicy: null, warning: { code: UNCHECKED_CODE } });
        expect((factory.warnings[0] as Error).message).toMatch(/Could not check .*CONFIG GET was refused/);
      } finally {
        await admin.call('ACL', 'DELUSER', user);
      }
    });

    it('refuses a store laid out by a newer Sundial', async () => {
      await admin.set(`{${prefix}}:version`, '99');
      await expect(factory.make().init()).rejects.toMatchObject({ code: 'SUNDIAL_SCHEMA_TOO_NEW' });
    });

    it('takes over a store of layout 1: raises its version, and reads and changes the jobs it holds', async () => {
      const store = factory.make();
      await store.init();
      const [job] = await store.addJobs([newJob()]);
      const key = `{${prefix}:q}:job:${job!.id}`;
      // The fields a new job's hash leaves out now, and layout 1 wrote.
      expect(await admin.hmget(key, 'attempt', 'failures', 'stalls', 'history')).toEqual([
        null,
        null,
        null,
        null,
      ]);
      await admin.hset(key, { attempt: '0', failures: '0', stalls: '0', history: '[]' });
      await admin.set(`{${prefix}}:version`, '1');

      const upgraded = factory.make();
      await upgraded.init();
      expect(await admin.get(`{${prefix}}:version`)).toBe('2');
      expect(await upgraded.getJob(job!.id)).toMatchObject({
        attempt: 0,
        failures: 0,
        stalls: 0,
        history: [],
      });
      const claim = { queue: 'q', owner: 'w', limit: 1, now: T0, leaseExpiresAt: T0 + 30_000 };
      await upgraded.claimJobs(claim);
      const error = { name: 'Error', message: 'boom', category: 'error' as const };
      const record = {
        attempt: 1,
        outcome: 'failed' as const,
        worker: 'w',
        startedAt: T0,
        finishedAt: T0 + 5,
      };
      await upgraded.finishJobs([
        { kind: 'retry', id: job!.id, owner: 'w', attempt: 1, finishedAt: T0 + 5, record, runAt: T0, error },
      ]);
      expect(await upgraded.getJob(job!.id)).toMatchObject({
        state: 'failed',
        attempt: 1,
        failures: 1,
        stalls: 0,
        history: [record],
      });
    });

    it('opens itself on first use: a store never given init() checks and raises the layout before it adds', async () => {
      await admin.set(`{${prefix}}:version`, '1');
      const store = factory.make();
      await store.addJobs([newJob()]);
      expect(await admin.get(`{${prefix}}:version`)).toBe('2');

      await admin.set(`{${prefix}}:version`, '99');
      const older = factory.make();
      await expect(older.addJobs([newJob()])).rejects.toMatchObject({ code: 'SUNDIAL_SCHEMA_TOO_NEW' });
      await expect(older.listQueues()).rejects.toMatchObject({ code: 'SUNDIAL_SCHEMA_TOO_NEW' });
      expect(await store.countJobs('q')).toMatchObject({ waiting: 1 });
    });

    it('checks its options, naming the field and the value', () => {
      expect(() => new RedisStore({ prefix: 'a{b}' })).toThrow(/store\.prefix.*a\{b\}/);
      // Prefixes `app` and `app:q` would share names with queue q of `app`.
      expect(() => new RedisStore({ prefix: 'app:q' })).toThrow(/store\.prefix.*app:q/);
      expect(() => new RedisStore({ url: 'http://localhost' })).toThrow(/store\.url.*http:\/\/localhost/);
      expect(() => new RedisStore({ client: { keyPrefix: 'x:' } })).toThrow(
        /store\.client\.keyPrefix.*store\.prefix/,
      );
      expect(() => new RedisStore({ colour: 'red' } as RedisStoreOptions)).toThrow(
        /store\.colour.*known: url/,
      );
    });

    it('reports an unreachable server as StoreUnavailableError, so callers try again later', async () => {
      const store = new RedisStore({
        url: 'redis://127.0.0.1:1',
        client: { retryStrategy: () => null },
        onError: () => {}, // the refused connection, also reported here
      });
      try {
        await expect(store.getJob('1')).rejects.toMatchObject({ code: 'SUNDIAL_STORE_UNAVAILABLE' });
        await expect(store.addJobs([newJob()])).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        await store.close();
      }
    });

    it('takes 100,000 schedules in one sync (a script call that large must not overflow the stack)', async () => {
      const store = factory.make();
      await store.init();
      const entries = Array.from({ length: 100_000 }, (_, i) => ({
        id: `t${i}`,
        specHash: 'h',
        nextRunAt: T0 + i,
      }));
      await store.syncSchedules(entries, T0);
      expect(await store.nextScheduleRunAt()).toBe(T0);
      expect((await store.listSchedules()).length).toBe(100_000);
    });

    it('adds a batch larger than one write command per set: all indexed, in claim order, ids without gaps around duplicates', async () => {
      const store = factory.make();
      await store.init();
      // 4,500 jobs: each set's entries go in more than one command (2,000 per command). Job 10's
      // key is job 9's, so it is a duplicate and takes no id; a few are delayed.
      const jobs = Array.from({ length: 4_500 }, (_, i) =>
        newJob({
          dedupeKey: i === 9 || i === 10 ? 'shared' : null,
          ...(i % 1000 === 999 ? { state: 'delayed' as const, runAt: T0 + 60_000 } : {}),
        }),
      );
      const added = await store.addJobs(jobs);
      const first = Number(added[0]!.id);
      expect(added[10]).toEqual({ id: added[9]!.id, duplicate: true });
      const fresh = added.filter((job) => !job.duplicate).map((job) => Number(job.id));
      expect(fresh).toEqual(Array.from({ length: 4_499 }, (_, i) => first + i));
      // The id the duplicate did not use goes back: the next add takes the next id.
      const [next] = await store.addJobs([newJob()]);
      expect(Number(next!.id)).toBe(first + 4_499);

      expect(await store.countJobs('q')).toMatchObject({ waiting: 4_496, delayed: 4 });
      expect((await store.listJobs({ queue: 'q', state: 'delayed' })).map((job) => job.id)).toEqual(
        [998, 1998, 2998, 3998].map((i) => String(first + i)),
      );
      const claimed = await store.claimJobs({
        queue: 'q',
        owner: 'w',
        limit: 3,
        now: T0,
        leaseExpiresAt: T0 + 30_000,
      });
      expect(claimed.map((job) => job.id)).toEqual([first, first + 1, first + 2].map(String));
      expect(await store.getJob(String(first + 4_000))).toMatchObject({ state: 'waiting', queue: 'q' });
    });

    it('refuses calls once closed', async () => {
      const store = factory.make();
      await store.init();
      await store.close();
      await expect(store.getJob('1')).rejects.toMatchObject({ code: 'SUNDIAL_STORE_CLOSED' });
    });

    it('after its connections are killed, reconnects: a job added afterwards still wakes a subscriber, and claims work', async () => {
      const worker = factory.make();
      const producer = factory.make();
      await Promise.all([worker.init(), producer.init()]);
      let wakes = 0;
      worker.subscribe('q', () => wakes++);
      expect(await killConnections(prefix)).toBeGreaterThanOrEqual(3); // two command, one wake-up
      // Back and resubscribed, it wakes its listeners once for what it may have missed.
      await waitFor(() => wakes > 0, { message: 'the wake-up after reconnecting' });
      const before = wakes;
      const [added] = await producer.addJobs([newJob()]);
      await waitFor(() => wakes > before, { message: 'the wake-up for the new job' });
      const claimed = await worker.claimJobs({
        queue: 'q',
        owner: 'w',
        limit: 5,
        now: T0,
        leaseExpiresAt: T0 + 1000,
      });
      expect(claimed.map((job) => job.id)).toEqual([added!.id]);
    });
  });
}
