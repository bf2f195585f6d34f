import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  FakeClock,
  InvalidJobStateError,
  InvalidOptionError,
  JobNotFoundError,
  type SqliteStore,
  type Sundial,
  SundialError,
  UnserializableError,
} from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

describe('queue API', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: FakeClock;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
    sundial = createSundial({ store: { path: join(dir.path, 'queue.db') }, clock });
  });
  afterEach(async () => {
    await sundial.close();
    dir.cleanup();
  });

  describe('adding', () => {
    it('adds a waiting job with the default options', async () => {
      const job = await sundial.queue('emails').add('welcome', { userId: 42 });
      expect(job).toMatchObject({
        queue: 'emails',
        name: 'welcome',
        payload: { userId: 42 },
        state: 'waiting',
        priority: 0,
        maxAttempts: 3,
        maxStalls: 1,
        backoff: { type: 'exponential', delay: 1000, factor: 2, jitter: 'equal' },
        runAt: clock.now(),
      });
      expect(await sundial.queue('emails').getJob(job.id)).toMatchObject({
        id: job.id,
        payload: { userId: 42 },
      });
    });

    it('delays a job by `delay` or until `runAt`', async () => {
      const q = sundial.queue('q');
      const delayed = await q.add('a', null, { delay: 5000 });
      const at = await q.add('b', null, { runAt: new Date(clock.now() + 60_000) });
      expect(delayed).toMatchObject({ state: 'delayed', runAt: clock.now() + 5000 });
      expect(at).toMatchObject({ state: 'delayed', runAt: clock.now() + 60_000 });
      const past = await q.add('c', null, { runAt: clock.now() - 1 });
      expect(past.state).toBe('waiting');
    });

    it('shares one store transaction between adds issued in the same turn', async () => {
      const store = sundial.store as SqliteStore;
      const batches: number[] = [];
      const original = store.addJobs.bind(store);
      store.addJobs = (jobs) => {
        batches.push(jobs.length);
        return original(jobs);
      };
      const q = sundial.queue('q');
      const jobs = await Promise.all(Array.from({ length: 25 }, (_, i) => q.add('n', i)));
      expect(batches).toEqual([25]);
      expect(jobs.map((j) => j.payload)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(new Set(jobs.map((j) => j.id)).size).toBe(25);
    });

    it('returns the existing job for a dedupe key that is still live', async () => {
      const q = sundial.queue('q');
      const first = await q.add('sync', { v: 1 }, { dedupeKey: 'user:7' });
      const second = await q.add('sync', { v: 2 }, { dedupeKey: 'user:7' });
      expect(second.id).toBe(first.id);
      expect(second.payload).toEqual({ v: 1 });
      expect((await q.counts()).waiting).toBe(1);
      await q.cancel(first.id);
      const third = await q.add('sync', { v: 3 }, { dedupeKey: 'user:7' });
      expect(third.id).not.toBe(first.id);
    });

    it('applies queue defaults under per-add options', async () => {
      const q = sundial.queue('defaults', { defaults: { attempts: 9, priority: 3 } });
      expect(await q.add('a')).toMatchObject({ maxAttempts: 9, priority: 3 });
      expect(await q.add('b', null, { priority: 1 })).toMatchObject({ maxAttempts: 9, priority: 1 });
    });

    it('adds in bulk in one go', async () => {
      const q = sundial.queue('bulk');
      const jobs = await q.addBulk(Array.from({ length: 1000 }, (_, i) => ({ name: 'n', payload: { i } })));
      expect(jobs).toHaveLength(1000);
      expect((await q.counts()).waiting).toBe(1000);
    });
  });

  describe('refusing bad input with the field and value named', () => {
    const cases: [string, () => Promise<unknown>, string, unknown][] = [
      ['negative delay', () => sundial.queue('q').add('a', null, { delay: -5 }), 'options.delay', -5],
      [
        'fractional attempts',
        () => sundial.queue('q').add('a', null, { attempts: 1.5 }),
        'options.attempts',
        1.5,
      ],
      ['zero attempts', () => sundial.queue('q').add('a', null, { attempts: 0 }), 'options.attempts', 0],
      [
        'unknown backoff type',
        () => sundial.queue('q').add('a', null, { backoff: { type: 'linear' } as never }),
        'options.backoff.type',
        'linear',
      ],
      [
        'bad jitter',
        () =>
          sundial.queue('q').add('a', null, { backoff: { type: 'exponential', jitter: 'half' } as never }),
        'options.backoff.jitter',
        'half',
      ],
      [
        'negative backoff delay',
        () => sundial.queue('q').add('a', null, { backoff: -3 }),
        'options.backoff',
        -3,
      ],
      ['zero timeout', () => sundial.queue('q').add('a', null, { timeout: 0 }), 'options.timeout', 0],
      [
        'empty dedupe key',
        () => sundial.queue('q').add('a', null, { dedupeKey: '' }),
        'options.dedupeKey',
        '',
      ],
      [
        'unknown option',
        () => sundial.queue('q').add('a', null, { retries: 3 } as never),
        'options.retries',
        3,
      ],
      [
        'string priority',
        () => sundial.queue('q').add('a', null, { priority: 'high' } as never),
        'options.priority',
        'high',
      ],
      [
        'invalid date',
        () => sundial.queue('q').add('a', null, { runAt: new Date('nope') }),
        'options.runAt',
        new Date('nope'),
      ],
      [
        'delay and runAt together',
        () => sundial.queue('q').add('a', null, { delay: 1, runAt: 5 }),
        'options.runAt',
        5,
      ],
      [
        'a Map for options',
        () => sundial.queue('q').add('a', null, new Map([['delay', 5]]) as never),
        'options',
        new Map([['delay', 5]]),
      ],
      ['an array for options', () => sundial.queue('q').add('a', null, [] as never), 'options', []],
      [
        'runAt past the latest valid date',
        () => sundial.queue('q').add('a', null, { runAt: 8_640_000_000_000_001 }),
        'options.runAt',
        8_640_000_000_000_001,
      ],
      [
        'a delay that ends past the latest valid date',
        () => sundial.queue('q').add('a', null, { delay: 8_640_000_000_000_000 }),
        'options.delay',
        8_640_000_000_000_000,
      ],
      [
        'a dedupe key with NUL',
        () => sundial.queue('q').add('a', null, { dedupeKey: 'a\0b' }),
        'options.dedupeKey',
        'a\0b',
      ],
      [
        'a dedupe key with half a surrogate pair',
        () => sundial.queue('q').add('a', null, { dedupeKey: 'a\uD800' }),
        'options.dedupeKey',
        'a\uD800',
      ],
      ['empty handler name', () => sundial.queue('q').add('', null), 'name', ''],
      ['handler name with spaces', () => sundial.queue('q').add('send mail', null), 'name', 'send mail'],
      [
        'bulk entry with a bad option',
        () => sundial.queue('q').addBulk([{ name: 'ok' }, { name: 'b', options: { delay: -1 } }]),
        'jobs[1].options.delay',
        -1,
      ],
    ];

    it.each(cases)('%s', async (_title, attempt, field, value) => {
      const error = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).code).toBe('SUNDIAL_INVALID_OPTION');
      expect((error as InvalidOptionError).field).toBe(field);
      expect((error as InvalidOptionError).value).toEqual(value);
      expect((error as Error).message).toContain(field);
      expect(await sundial.queue('q').counts()).toMatchObject({ waiting: 0, delayed: 0 });
    });

    it('refuses an unserialisable payload and stores nothing of the batch', async () => {
      const q = sundial.queue('q');
      await q.add('keep', { kept: true });
      const error = await q
        .addBulk([
          { name: 'a', payload: { ok: 1 } },
          { name: 'b', payload: { when: 10n } },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnserializableError);
      expect((error as UnserializableError).field).toBe('jobs[1].payload.when');
      const jobs = await q.listJobs();
      expect(jobs.map((j) => j.payload)).toEqual([{ kept: true }]);
    });

    it('refuses options it cannot read, naming them, and stores nothing', async () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      const throwing = {
        get delay(): number {
          throw new Error('getter');
        },
      };
      for (const options of [proxy, throwing]) {
        const error = await sundial
          .queue('q')
          .add('a', null, options as never)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as InvalidOptionError).field).toBe('options');
        expect((error as Error).message).toMatch(
          /^Invalid options: .* \(options that can be read; reading them threw/,
        );
      }
      expect(await sundial.queue('q').counts()).toMatchObject({ waiting: 0, delayed: 0 });
    });

    it('refuses payloads it cannot read or that nest too deep, naming where, and stores nothing', async () => {
      const q = sundial.queue('q');
      await q.add('keep', { kept: true });
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      let deep: unknown = 1;
      for (let i = 0; i < 200_000; i++) deep = { a: deep };
      const cases: [unknown, RegExp][] = [
        [
          {
            user: {
              get name() {
                throw new Error('getter');
              },
            },
          },
          /^Cannot store payload\.user\.name, whose value cannot be read \(reading it threw Error: getter\)$/,
        ],
        [
          {
            at: {
              toJSON() {
                throw new Error('toJSON');
              },
            },
          },
          /^Cannot store payload\.at, whose value cannot be read/,
        ],
        [
          { list: [1, proxy] },
          /^Cannot store payload\.list\[1\], whose value cannot be read \(reading it threw TypeError/,
        ],
        [
          deep,
          /^Cannot store payload\.a\.a\.a\.a\.a\.a\.a\.a…\(984 levels\)…\.a\.a\.a\.a\.a\.a\.a\.a: "\[nested\]" is nested more than 1000 levels deep$/,
        ],
      ];
      for (const [payload, message] of cases) {
        const error = await q.add('a', payload).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnserializableError);
        expect((error as Error).message).toMatch(message);
        const bulk = await q.addBulk([{ name: 'ok' }, { name: 'b', payload }]).catch((e: unknown) => e);
        expect((bulk as UnserializableError).field).toMatch(/^jobs\[1\]\.payload/);
      }
      expect((await q.listJobs()).map((job) => job.payload)).toEqual([{ kept: true }]);
    });

    it('refuses queue defaults that cannot apply to every job, and conflicting options later', () => {
      expect(() => sundial.queue('d1', { defaults: { dedupeKey: 'k' } })).toThrow(
        /Invalid defaults\.dedupeKey: "k"/,
      );
      expect(() => sundial.queue('d2', { defaults: { runAt: 5 } })).toThrow(/Invalid defaults\.runAt: 5/);
      sundial.queue('d3', { defaults: { attempts: 2 } });
      expect(sundial.queue('d3')).toBe(sundial.queue('d3', { defaults: { attempts: 2 } }));
      expect(() => sundial.queue('d3', { defaults: { attempts: 5 } })).toThrow(/queue "d3" already exists/);
    });

    it('refuses a bad queue name', () => {
      expect(() => sundial.queue('has space')).toThrow(/Invalid queue: "has space"/);
    });
  });

  describe('controls', () => {
    it('pauses and resumes a queue', async () => {
      const q = sundial.queue('q');
      await q.pause();
      expect(await q.isPaused()).toBe(true);
      await q.resume();
      expect(await q.isPaused()).toBe(false);
    });

    it('lists jobs by state a page at a time, newest first on request', async () => {
      const q = sundial.queue('q');
      await q.addBulk(Array.from({ length: 12 }, (_, i) => ({ name: 'n', payload: i })));
      await q.add('later', null, { delay: 1000 });
      expect((await q.listJobs('waiting', { limit: 5, offset: 10 })).map((j) => j.payload)).toEqual([10, 11]);
      expect((await q.listJobs('waiting', { limit: 2, order: 'desc' })).map((j) => j.payload)).toEqual([
        11, 10,
      ]);
      expect(await q.listJobs('delayed')).toHaveLength(1);
      await expect(q.listJobs('sleeping' as never)).rejects.toThrow(InvalidOptionError);
      await expect(q.listJobs('waiting', { limit: 0 })).rejects.toThrow(/Invalid limit: 0/);
    });

    it('cancels, retries and removes, refusing transitions the state does not allow', async () => {
      const q = sundial.queue('q');
      const job = await q.add('n', 1);
      await expect(q.retry(job.id)).rejects.toThrow(InvalidJobStateError);
      await expect(q.retry(job.id)).rejects.toThrow(/Cannot retry job .*: it is waiting/);
      expect((await q.cancel(job.id)).state).toBe('cancelled');
      await expect(q.cancel(job.id)).rejects.toThrow(InvalidJobStateError);
      clock.advance(10);
      expect(await q.retry(job.id)).toMatchObject({ state: 'waiting', runAt: clock.now() });
      expect((await q.remove(job.id)).id).toBe(job.id);
      expect(await q.getJob(job.id)).toBeNull();
      await expect(q.remove(job.id)).rejects.toThrow(JobNotFoundError);
    });

    it('does not touch a job of another queue', async () => {
      const job = await sundial.queue('a').add('n', 1);
      await expect(sundial.queue('b').cancel(job.id)).rejects.toThrow(JobNotFoundError);
      expect(await sundial.queue('b').getJob(job.id)).toBeNull();
      expect((await sundial.queue('a').getJob(job.id))!.state).toBe('waiting');
    });

    it('refuses to retry a job whose dedupe key a newer job holds', async () => {
      const q = sundial.queue('q');
      const old = await q.add('n', 1, { dedupeKey: 'k' });
      await q.cancel(old.id);
      await q.add('n', 2, { dedupeKey: 'k' });
      const error = await q.retry(old.id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SundialError);
      expect((error as SundialError).code).toBe('SUNDIAL_DUPLICATE');
    });

    it('prunes finished jobs older than a cut-off', async () => {
      const q = sundial.queue('q');
      const jobs = await q.addBulk([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      await q.cancel(jobs[0]!.id);
      clock.advance(60_000);
      await q.cancel(jobs[1]!.id);
      expect(await q.prune({ olderThan: 30_000 })).toBe(0); // only completed by default
      expect(await q.prune({ olderThan: 30_000, states: ['cancelled'] })).toBe(1);
      expect((await q.counts()).cancelled).toBe(1);
      await expect(q.prune({ olderThan: 0, states: ['waiting'] })).rejects.toThrow(
        /Invalid states: "waiting"/,
      );
    });
  });
});
