import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial, type Sundial } from '../src/index.ts';
import { RedisStore } from '../src/store/index.ts';
import { keyPattern } from '../src/store/redis/keys.ts';
import { engineUnderTest, REDIS_URL } from './conformance/servers.ts';
import { sleep, waitFor } from './helpers.ts';

/** A worker on a store with direct handoff (Redis): what it is handed, and what it gives back. */
if (await engineUnderTest('Redis', REDIS_URL, 6379)) {
  describe('worker with direct handoff (redis)', () => {
    let prefix: string;
    let sundial: Sundial;

    beforeEach(() => {
      prefix = `sundial-test-${randomBytes(6).toString('hex')}`;
      sundial = createSundial({ store: new RedisStore({ url: REDIS_URL, prefix, onError: () => {} }) });
    });
    afterEach(async () => {
      await sundial.close({ graceMs: 0 });
      const admin = new Redis(REDIS_URL);
      const keys = await admin.keys(keyPattern(prefix));
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    });

    it('an idle worker runs what adds hand it; once closed it is handed nothing', async () => {
      const ran: string[] = [];
      const worker = sundial.worker(
        'q',
        { task: (_payload, { job }) => void ran.push(job.id) },
        { pollMs: 60_000 },
      );
      await sleep(300); // its first claim finds nothing and offers its slots
      const q = sundial.queue('q');
      const handed = await q.add('task', {});
      expect((await q.getJob(handed.id))!.state).toBe('active');
      await waitFor(async () => (await q.getJob(handed.id))?.state === 'completed', {
        message: 'the handed job',
      });
      expect(ran).toEqual([handed.id]);

      await worker.close();
      const after = await q.add('task', {});
      await sleep(100);
      expect((await q.getJob(after.id))!.state).toBe('waiting');
      expect(ran).toEqual([handed.id]);
    });

    it('handed more than it has free slots: the rest wait in the worker, leased, and start as slots free', async () => {
      const release: (() => void)[] = [];
      const started: string[] = [];
      const worker = sundial.worker(
        'q',
        {
          task: (_payload, { job }) =>
            new Promise<void>((resolve) => {
              started.push(job.id);
              release.push(resolve);
            }),
        },
        { concurrency: 1, pollMs: 60_000, heartbeatMs: 100, leaseMs: 1000 },
      );
      await sleep(300);
      // An offer larger than its free slots, as a claim under way when jobs were handed leaves.
      const now = Date.now();
      await sundial.store.claimJobs({
        queue: 'q',
        owner: worker.id,
        limit: 3,
        now,
        leaseExpiresAt: now + 1000,
        offerUntil: now + 60_000,
      });
      const q = sundial.queue('q');
      const jobs = await q.addBulk([{ name: 'task' }, { name: 'task' }, { name: 'task' }]);
      expect((await q.counts()).active).toBe(3);
      await waitFor(() => started.length === 1, { message: 'the first to start' });
      // Longer than their lease: the heartbeat keeps the two waiting ones ours.
      await sleep(1500);
      expect(started).toHaveLength(1);
      for (let n = 1; n <= 3; n++) {
        await waitFor(() => release.length === 1, { message: `job ${n} to start` });
        release.shift()!();
      }
      await waitFor(async () => (await q.counts()).completed === 3, { message: 'all three to complete' });
      expect(started).toEqual(jobs.map((job) => job.id));
      for (const job of jobs) expect(await q.getJob(job.id)).toMatchObject({ attempt: 1, stalls: 0 });
    });
  });
}
