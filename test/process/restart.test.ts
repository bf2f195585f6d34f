import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial, StoreUnavailableError, type Sundial } from '../../src/index.ts';
import { storeFromEnv } from '../fixtures/store-from-env.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { killAll, startScheduler, startWorker } from './children.ts';
import { postgresBin, startPrivatePostgres } from './private-postgres.ts';
import { redisServerInstalled, startPrivateRedis } from './private-redis.ts';
import { startRedisCluster } from './redis-cluster.ts';

/** A server of the test's own that it may restart. */
interface Server {
  url: string;
  restart(): void | Promise<void>;
  stop(): void;
}

const SERVERS = [
  {
    engine: 'postgres',
    // The server refuses root; the test runs it as the postgres user, which needs root to switch to.
    available: postgresBin() !== null && process.getuid?.() === 0,
    start: (): Promise<Server> => startPrivatePostgres(),
  },
  {
    engine: 'redis',
    available: redisServerInstalled(),
    start: (): Promise<Server> => startPrivateRedis(),
  },
  {
    // Every node of a three-primary Cluster restarted: the queue's node and the global keys' too.
    engine: 'redis-cluster',
    available: redisServerInstalled(),
    start: async (): Promise<Server> => {
      const cluster = await startRedisCluster(3, { aof: true });
      return { ...cluster, url: cluster.urls.join(',') };
    },
  },
] as const;

/** Tries `work` until the store answers again (the test's own calls meet the restart too). */
async function whenBack<T>(work: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || tries > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

for (const { engine, available } of SERVERS) {
  if (!available && process.env.CI === 'true') {
    it(`can start a ${engine} server of its own`, () => {
      throw new Error(`${engine} server binaries (or the rights to run them) are missing`);
    });
  }
}

describe.each(SERVERS.filter((server) => server.available))(
  '$engine restarted in the middle of work',
  ({ engine, start }) => {
    let server: Server;
    let dir: ReturnType<typeof tempDir>;
    let app: Sundial;
    const env = () => ({ SUNDIAL_STORE: engine, SUNDIAL_URL: server.url, SUNDIAL_NAMESPACE: 'restart' });

    beforeEach(async () => {
      server = await start();
      dir = tempDir();
      app = createSundial({ store: storeFromEnv(env()) });
      await app.init();
    });
    afterEach(async () => {
      killAll();
      await app.close();
      server.stop();
      dir.cleanup();
    });

    it('workers and schedulers reconnect and carry on, and no job is lost', {
      timeout: 120_000,
    }, async () => {
      const logs = [0, 1].map((i) => join(dir.path, `worker-${i}.log`));
      const lease = { LEASE_MS: 3000, HEARTBEAT_MS: 500, STALLED_CHECK_MS: 500, POLL_MS: 200 };
      // Each job takes 20 ms, so the restart lands while jobs are running.
      const workers = logs.map((log) =>
        startWorker({ ...env(), ...lease, LOG: log, CONCURRENCY: 10, MODE: 'slow', SLOW_MS: 20 }),
      );
      const scheduler = startScheduler(env());
      await Promise.all([...workers, scheduler].map((child) => child.ready));

      const q = app.queue('q');
      const batch = (from: number) =>
        Array.from({ length: 1000 }, (_, i) => ({ name: 'task', payload: { n: from + i } }));
      const ids = (await q.addBulk(batch(0))).map((job) => job.id);
      await waitFor(async () => (await q.counts()).completed >= 100, { message: 'work under way' });

      const before = await q.counts();
      await server.restart();
      const restartedAt = Date.now();
      expect(before.completed).toBeLessThan(1000); // mid-run
      ids.push(...(await whenBack(() => q.addBulk(batch(1000)))).map((job) => job.id));

      await waitFor(async () => (await whenBack(() => q.counts())).completed === 2000, {
        timeoutMs: 60_000,
        intervalMs: 200,
        message: 'all 2,000 jobs to complete after the restart',
      });
      // The schedulers fire again after the restart: ticks for seconds well after it.
      await waitFor(
        async () => {
          const ticks = await whenBack(() => app.queue('ticks').listJobs(undefined, { limit: 1000 }));
          return ticks.some((job) => job.origin!.scheduledFor > restartedAt + 2000);
        },
        { timeoutMs: 20_000, message: 'the scheduler to fire after the restart' },
      );

      for (const child of [...workers, scheduler]) child.process.kill('SIGTERM');
      expect(
        (await Promise.all([...workers, scheduler].map((child) => child.exited))).map((e) => e.code),
      ).toEqual([0, 0, 0]);

      // Nothing lost: every job completed, and ran (at least once: a claim whose answer the restart
      // cut off runs again after its lease).
      expect(await q.counts()).toMatchObject({ completed: 2000, waiting: 0, active: 0, failed: 0, dead: 0 });
      const ran = new Set(
        logs.flatMap((log) => readFileSync(log, 'utf8').trim().split('\n')).map((line) => line.split(' ')[0]),
      );
      expect(ids.filter((id) => !ran.has(id))).toEqual([]);
      // Occurrences fired once each, before and after.
      const ticks = await app.queue('ticks').listJobs(undefined, { limit: 1000 });
      const times = ticks.map((job) => job.origin!.scheduledFor);
      expect(new Set(times).size).toBe(times.length);
    });
  },
);
