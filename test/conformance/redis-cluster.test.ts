import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/core/index.ts';
import { AT_RISK_CODE, RedisStore, type RedisStoreOptions, UNCHECKED_CODE } from '../../src/store/index.ts';
import { pushJobArgs } from '../../src/store/redis/jobs.ts';
import { globalBase, queueBase } from '../../src/store/redis/keys.ts';
import { redisServerForTests } from '../process/private-redis.ts';
import { startRedisCluster } from '../process/redis-cluster.ts';
import { describeStoreConformance, harnessOf, newJob, T0 } from './store-conformance.ts';

/*
 * The same contract on a Redis Cluster of three primaries that this file starts on loopback ports:
 * every script must stay in one slot, and what a single Redis does in one script the Cluster does
 * in steps (src/store/redis/cluster.ts). Each test has its own prefix; the Cluster goes at the end.
 */
if (redisServerForTests('the Redis Cluster conformance suite')) {
  const cluster = await startRedisCluster(3);
  afterAll(() => cluster.stop());

  /** Stores of one new prefix on the Cluster, which report errors (not the durability warning) into `errors`. */
  const storeFactory = () => {
    const prefix = `sundial-test-${randomBytes(6).toString('hex')}`;
    const stores: RedisStore[] = [];
    const errors: unknown[] = [];
    const make = (options: RedisStoreOptions = {}) => {
      const store = new RedisStore({
        cluster: cluster.urls,
        prefix,
        onError: (error) => {
          const code = (error as { code?: string }).code;
          if (code !== AT_RISK_CODE && code !== UNCHECKED_CODE) errors.push(error);
        },
        ...options,
      });
      stores.push(store);
      return store;
    };
    const cleanup = async () => {
      await Promise.all(stores.map((store) => store.close()));
      expect(errors).toEqual([]);
    };
    return { prefix, make, cleanup };
  };

  describeStoreConformance('redis cluster', async () => {
    const { make, cleanup } = storeFactory();
    return harnessOf(make, cleanup);
  });

  describe('redis store on a cluster', () => {
    let factory: ReturnType<typeof storeFactory>;
    const nodes = cluster.urls.map((url) => new Redis(url));
    afterAll(() => {
      for (const node of nodes) node.disconnect();
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    /** The keys of the test's prefix on each node. */
    const keysPerNode = () =>
      Promise.all(
        nodes.map(async (node) => {
          const keys: string[] = [];
          let cursor = '0';
          do {
            const [next, found] = await node.scan(cursor, 'MATCH', `*${factory.prefix}*`, 'COUNT', 1000);
            keys.push(...found);
            cursor = next;
          } while (cursor !== '0');
          return keys;
        }),
      );

    it('spreads queues over the primaries, each queue on one, and works each of them', async () => {
      factory = storeFactory();
      const store = factory.make();
      await store.init();
      const queues = Array.from({ length: 24 }, (_, i) => `queue-${i}`);
      const added = await store.addJobs(queues.flatMap((queue) => [newJob({ queue }), newJob({ queue })]));
      expect(added.every((job) => !job.duplicate)).toBe(true);

      const perNode = await keysPerNode();
      // Every queue's keys on one node, the global keys on one node, and more than one node in use.
      const nodeOf = new Map<string, number>();
      perNode.forEach((keys, node) => {
        for (const key of keys) {
          const tag = /^\{([^}]*)\}/.exec(key)![1]!;
          expect(nodeOf.get(tag) ?? node).toBe(node);
          nodeOf.set(tag, node);
        }
      });
      expect(nodeOf.size).toBe(queues.length + 1);
      expect(perNode.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);

      // Claimed and finished queue by queue, each job found by id wherever it lives.
      for (const queue of queues) {
        const jobs = await store.claimJobs({
          queue,
          owner: 'w',
          limit: 10,
          now: T0,
          leaseExpiresAt: T0 + 30_000,
        });
        expect(jobs.map((job) => job.queue)).toEqual([queue, queue]);
        const applied = await store.finishJobs(
          jobs.map((job) => ({
            kind: 'completed' as const,
            id: job.id,
            owner: 'w',
            attempt: 1,
            finishedAt: T0 + 1,
            record: {
              attempt: 1,
              outcome: 'completed' as const,
              worker: 'w',
              startedAt: T0,
              finishedAt: T0 + 1,
            },
            result: 'null',
          })),
        );
        expect(applied).toEqual([true, true]);
        expect((await store.getJob(jobs[0]!.id))?.state).toBe('completed');
      }
      expect(await store.listQueues()).toEqual([...queues].sort());
    });

    it('keeps the global id index to the jobs that exist: duplicates, removals and pruning leave nothing behind', async () => {
      factory = storeFactory();
      const store = factory.make();
      await store.init();
      const index = `${globalBase(factory.prefix)}:jobs`;
      const client = new Redis.Cluster(cluster.urls);
      try {
        const [first] = await store.addJobs([newJob({ dedupeKey: 'k' })]);
        const again = await store.addJobs([newJob({ dedupeKey: 'k' }), newJob({ queue: 'other' })]);
        expect(again[0]).toEqual({ id: first!.id, duplicate: true });
        expect(await client.hlen(index)).toBe(2);

        const removed = await store.removeJob(again[1]!.id, { queue: 'other', from: ['waiting'] });
        expect(removed.ok).toBe(true);
        expect(await store.getJob(again[1]!.id)).toBeNull();
        expect(await client.hkeys(index)).toEqual([first!.id]);

        await store.cancelJob(first!.id, { queue: 'q', from: ['waiting'], now: T0 });
        expect(await store.pruneJobs({ queue: 'q', states: ['cancelled'], finishedBefore: T0 + 1 })).toBe(1);
        expect(await client.hlen(index)).toBe(0);
      } finally {
        client.disconnect();
      }
    });

    it('a scheduler that died after inserting a fire but before moving the schedule on: the next one moves it on and the occurrence runs once', async () => {
      factory = storeFactory();
      const dying = factory.make();
      const next = factory.make();
      await dying.init();
      await next.init();
      await dying.syncSchedules([{ id: 'tick', specHash: 'h', nextRunAt: T0 }], T0);
      const job = newJob({ origin: JSON.stringify({ schedule: 'tick' }) });

      // The first two steps of fireScheduleOnCluster, as the dying scheduler ran them.
      const first = await dying.run('fireBegin', globalBase(factory.prefix), ['tick', String(T0), 'q', 'q']);
      const args = ['tick', String(T0), '', '#next', String(T0), `${first},${Number(first) + 1}`];
      pushJobArgs(args, job);
      const [inserted] = (await dying.run('fireInsert', queueBase(factory.prefix, 'q'), args)) as [number];
      expect(inserted).toBe(1);
      await dying.close();

      const fire = await next.fireSchedule({
        id: 'tick',
        expectedNextRunAt: T0,
        nextRunAt: T0 + 1000,
        firedAt: T0 + 5,
        jobs: [job],
      });
      expect(fire).toEqual({ fired: false, added: [] });
      expect((await next.listSchedules())[0]).toMatchObject({ id: 'tick', nextRunAt: T0 + 1000 });
      expect((await next.countJobs('q')).waiting).toBe(1);

      // The next occurrence fires as usual.
      const later = await next.fireSchedule({
        id: 'tick',
        expectedNextRunAt: T0 + 1000,
        nextRunAt: T0 + 2000,
        firedAt: T0 + 1000,
        jobs: [job],
      });
      expect(later.fired).toBe(true);
      expect((await next.countJobs('q')).waiting).toBe(2);
      expect((await next.latestRuns()).get('tick')?.id).toBe(later.added[0]!.id);
    });

    it('a script sent again after its answer was lost changes nothing the second time: adds and fires', async () => {
      factory = storeFactory();
      const store = factory.make();
      await store.init();
      const global = globalBase(factory.prefix);
      const queue = queueBase(factory.prefix, 'q');

      // An add, its job claimed, then the same add again (as ioredis resends it after a reconnect).
      const first = String(await store.run('reserveIds', global, ['q']));
      const addArgs = [first];
      pushJobArgs(addArgs, newJob({ dedupeKey: 'k' }));
      expect(await store.run('addJobs', queue, addArgs)).toBe(first);
      await store.claimJobs({ queue: 'q', owner: 'w', limit: 1, now: T0, leaseExpiresAt: T0 + 30_000 });
      expect(await store.run('addJobs', queue, addArgs)).toBe(first);
      expect(await store.getJob(first)).toMatchObject({ state: 'active', attempt: 1, leaseOwner: 'w' });
      expect(await store.countJobs('q')).toMatchObject({ active: 1, waiting: 0 });

      // A fire's insert twice: the same answer, one job.
      await store.syncSchedules([{ id: 'tick', specHash: 'h', nextRunAt: T0 + 1000 }], T0);
      const ids = Number(await store.run('fireBegin', global, ['tick', String(T0 + 1000), 'q', 'q']));
      const fireArgs = (at: number, reserved: number) => {
        const args = ['tick', String(at), '', '#next', String(at), `${reserved},${reserved + 1}`];
        pushJobArgs(args, newJob({ queue: 'q', origin: JSON.stringify({ schedule: 'tick' }) }));
        return args;
      };
      const once = await store.run('fireInsert', queue, fireArgs(T0 + 1000, ids));
      expect(once).toEqual([1, [[String(ids), 0, '']]]);
      expect(await store.run('fireInsert', queue, fireArgs(T0 + 1000, ids))).toEqual(once);
      // Another scheduler's insert of the same occurrence, and a late one of an older occurrence,
      // from a scheduler that stalled: both refused.
      expect(await store.run('fireInsert', queue, fireArgs(T0 + 1000, ids + 10))).toEqual([0, []]);
      expect(await store.run('fireInsert', queue, fireArgs(T0, ids + 20))).toEqual([0, []]);
      expect((await store.countJobs('q')).waiting).toBe(1);
    });

    it('refuses bad cluster options, naming the option and the value', () => {
      factory = storeFactory();
      expect(() => new RedisStore({ cluster: [] })).toThrow(InvalidOptionError);
      expect(() => new RedisStore({ cluster: [] })).toThrow(/store\.cluster/);
      expect(() => new RedisStore({ cluster: ['redis://127.0.0.1:7000', 'localhost:7001'] })).toThrow(
        /store\.cluster\[1\].*localhost:7001/,
      );
      expect(() => new RedisStore({ cluster: ['redis://127.0.0.1:7000/2'] })).toThrow(
        /store\.cluster\[0\].*7000\/2.*only 0/,
      );
      expect(
        () => new RedisStore({ url: 'redis://127.0.0.1:6379', cluster: ['redis://127.0.0.1:7000'] }),
      ).toThrow(/store\.url.*not together with store\.cluster/);
    });
  });
}
