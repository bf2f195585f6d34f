/**
 * Each exit applies the one rule set: job errors (every job's, not only tasks'), the outcome stored
 * in place of one the store refused, derived task ids, hooks, the task runner's secretKeys and the
 * `error` event. (test/process/secrets.test.ts pushes the whole corpus through all of them on every
 * engine; test/unit/mask.test.ts says what the rules mask.)
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  InvalidOptionError,
  type Job,
  type JobOutcome,
  MAX_ERROR_MESSAGE_CHARS,
  Masker,
  Schedule,
  type Sundial,
  type SundialEvents,
  storableText,
  type TaskRunInfo,
} from '../../src/index.ts';
import { toJobError, unstorableOutcome } from '../../src/worker/outcome.ts';
import { interpose, tempDir, waitFor } from '../helpers.ts';

describe('masking at every exit', () => {
  let dir: ReturnType<typeof tempDir>;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    sundial = createSundial({ store: { path: join(dir.path, 'mask.db') }, mask: { rules: [/acme-\d{4}/] } });
  });
  afterEach(async () => {
    await sundial.close({ graceMs: 0 });
    dir.cleanup();
  });

  async function settled(queue: string, id: string): Promise<Job> {
    return waitFor(
      async () => {
        const job = await sundial.queue(queue).getJob(id);
        return job && ['completed', 'dead'].includes(job.state) ? job : null;
      },
      { message: `job ${id} to finish` },
    );
  }

  it('stores a failed job’s error with its message and stack masked, by the Sundial’s rules', async () => {
    const failed: SundialEvents['job.failed'][] = [];
    sundial.on('job.failed', (event) => void failed.push(event));
    sundial.worker('q', {
      sync: () => {
        throw new Error('cannot reach postgres://app:hunter2@db/app with acme-1234');
      },
    });
    const added = await sundial.queue('q').add('sync', null, { attempts: 1 });
    const job = await settled('q', added.id);
    const expected = 'cannot reach postgres://app:[masked]@db/app with [masked]';
    expect(job.error!.message).toBe(expected);
    expect(job.error!.stack).toMatch(
      /^Error: cannot reach postgres:\/\/app:\[masked\]@db\/app with \[masked\]\n/,
    );
    expect(job.history[0]!.error!.message).toBe(expected);
    expect(failed[0]!.error.message).toBe(expected);
  });

  it('masks before cutting a long message to size, so a secret the cut splits is not missed', () => {
    // A message the cut would split inside `password`, leaving `word=hunter2` at the start of its end.
    const text = (filler: number) => `${'x'.repeat(100_000)} password=hunter2 ${'y'.repeat(filler)}`;
    let filler = 49_950;
    while (!storableText(text(filler), MAX_ERROR_MESSAGE_CHARS).includes('\nword=hunter2')) filler++;
    const stored = toJobError(new Error(text(filler)));
    expect(stored.message).not.toContain('hunter2');
    expect(stored.stack).not.toContain('hunter2');
  });

  it('masks the error of an outcome stored in place of one the store refused', () => {
    const refused = { kind: 'completed', id: '1', owner: 'w', attempt: 1, finishedAt: 0, record: {} };
    const job = { failures: 0, stalls: 0, queue: 'q' } as Job;
    const outcome = unstorableOutcome(
      job,
      refused as JobOutcome,
      new Error('no route to redis://:hunter2@cache:6379'),
      new Masker(),
    );
    expect(outcome.kind === 'dead' && outcome.error.message).toContain('redis://:[masked]@cache:6379');
  });

  it('masks the error event, whose error can carry a connection URL', async () => {
    const errors: SundialEvents['error'][] = [];
    const store = sundial.store;
    const failing = createSundial({
      store: interpose(store, {
        finishAndClaim: () => Promise.reject(new Error('connect postgres://app:hunter2@db failed')),
      }),
    });
    failing.on('error', (event) => void errors.push(event));
    failing.worker('q', {}, { pollMs: 20 });
    await waitFor(() => errors.length > 0, { message: 'an error event' });
    await failing.close({ graceMs: 0 });
    expect((errors[0]!.error as Error).message).toBe('connect postgres://app:[masked]@db failed');
  });

  describe('derived task ids', () => {
    it('keep two tasks that differ only in a secret apart, with a short hash of the real text', () => {
      const schedule = new Schedule();
      schedule.command('pg_dump', ['--password', 'hunter2', 'app']).hourly();
      schedule.command('pg_dump', ['--password', 'correct-horse', 'app']).hourly();
      schedule.ping('https://hc.test/feed?token=abc123').hourly();
      const ids = schedule.load().map((task) => task.definition.id);
      expect(ids).toEqual([
        expect.stringMatching(/^pg_dump --password \[masked\] app #[0-9a-f]{6}$/),
        expect.stringMatching(/^pg_dump --password \[masked\] app #[0-9a-f]{6}$/),
        expect.stringMatching(/^ping:https:\/\/hc\.test\/feed\?token=\[masked\] #[0-9a-f]{6}$/),
      ]);
      expect(ids[0]).not.toBe(ids[1]);
      // The same text gives the same id in every process.
      const again = new Schedule();
      again.command('pg_dump', ['--password', 'hunter2', 'app']).hourly();
      expect(again.load()[0]!.definition.id).toBe(ids[0]);
    });

    it('stay as they were for texts without a secret, and within 200 characters', () => {
      const schedule = new Schedule();
      schedule.command('pg_dump', ['-Fc', 'app']).hourly();
      schedule.command('echo', ['x'.repeat(300), 'password=hunter2']).hourly();
      const [plain, long] = schedule.load().map((task) => task.definition.id);
      expect(plain).toBe('pg_dump -Fc app');
      expect(long).toMatch(/^echo x+ #[0-9a-f]{6}$/);
      expect(long!.length).toBeLessThanOrEqual(200);
    });

    it('keep a long ping URL within 200 characters, two that differ past the cut apart, and firing', async () => {
      const schedule = new Schedule();
      const base = `https://example.test/${'a'.repeat(600)}`;
      schedule.ping(`${base}/one`).everyMinute();
      schedule.ping(`${base}/two`).everyMinute();
      const tasks = schedule.load();
      const [one, two] = tasks.map((task) => task.definition.id);
      expect(one!.length).toBeLessThanOrEqual(200);
      expect(one).toMatch(/^ping:https:\/\/example\.test\/a+ #[0-9a-f]{6}$/);
      expect(one).not.toBe(two);
      // Its id is its runs' dedupe key: a fire must be taken.
      const scheduler = sundial.scheduler(tasks, { autostart: false });
      await expect(scheduler.trigger(one!)).resolves.toMatchObject({ duplicate: false });
    });

    it('leave the record of an id from before masking behind, never fired, until its row is deleted', async () => {
      const now = Date.now();
      // As an older Sundial recorded the task, under its unmasked command line.
      const old = 'pg_dump --password hunter2 app';
      await sundial.store.syncSchedules([{ id: old, specHash: 'older', nextRunAt: now - 60_000 }], now);
      const schedule = new Schedule();
      schedule.command('pg_dump', ['--password', 'hunter2', 'app']).everyMinute();
      const scheduler = sundial.scheduler(schedule, { autostart: false });
      await scheduler.sync();
      await scheduler.tick();
      const ids = (await sundial.store.listSchedules()).map((record) => record.id);
      expect(ids).toHaveLength(2);
      expect(ids).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^pg_dump --password \[masked\] app #[0-9a-f]{6}$/),
          old,
        ]),
      );
      const jobs = await sundial.queue('sundial.tasks').listJobs();
      expect(jobs.filter((job) => job.origin?.schedule === old)).toEqual([]);
      const sqlite = new DatabaseSync(join(dir.path, 'mask.db'));
      sqlite.prepare('DELETE FROM sundial_schedules WHERE id = ?').run(old);
      sqlite.close();
      expect((await sundial.store.listSchedules()).map((record) => record.id)).toEqual([
        scheduler.taskIds[0],
      ]);
    });

    it('are masked with the Sundial’s own rules when it loads the schedule', async () => {
      const schedule = new Schedule();
      schedule.command('deploy', ['acme-1234']).hourly();
      expect(schedule.load()[0]!.definition.id).toBe('deploy acme-1234');
      const scheduler = sundial.scheduler(schedule, { autostart: false });
      expect(scheduler.taskIds).toEqual([expect.stringMatching(/^deploy \[masked\] #[0-9a-f]{6}$/)]);
    });
  });

  describe('task runs', () => {
    async function run(schedule: Schedule, id: string, options = {}): Promise<Job> {
      sundial.taskWorker(schedule, options);
      const { jobId } = await sundial.scheduler(schedule, { autostart: false }).trigger(id);
      return settled('sundial.tasks', jobId);
    }

    it('give hooks the run’s error masked: a failing ping’s error carries its URL', async () => {
      const seen: TaskRunInfo[] = [];
      const schedule = new Schedule();
      schedule
        .ping('http://monitor:hunter2@127.0.0.1:9/health')
        .name('health')
        .onFailure((info) => void seen.push(info))
        .after((info) => void seen.push(info));
      const job = await run(schedule, 'health');
      expect(job.state).toBe('dead');
      expect(seen).toHaveLength(2);
      for (const info of seen) {
        // fetch refuses a URL with credentials, and says so with the URL in its message.
        expect(info.error!.message).toMatch(
          /^Request cannot be constructed from a URL that includes credentials: .*\[masked\]/,
        );
        expect(JSON.stringify(info)).not.toContain('hunter2');
      }
    });

    it('still mask the task runner’s secretKeys, beside the Sundial’s rules', async () => {
      const schedule = new Schedule();
      schedule.call(({ log }) => log('stripe_sk=live_abc acme-1234 password=hunter2')).name('keys');
      const job = await run(schedule, 'keys', { secretKeys: ['stripe_sk'] });
      expect((job.result as { output: string }).output).toBe(
        'stripe_sk=[masked] [masked] password=[masked]\n',
      );
    });

    it('refuse a bad secretKeys entry when the task worker is made', () => {
      const schedule = new Schedule();
      schedule.call(() => {}).name('x');
      expect(() => sundial.taskWorker(schedule, { secretKeys: ['a'] })).toThrow(
        expect.objectContaining({ field: 'options.secretKeys[0]', value: 'a' }),
      );
    });
  });

  it('refuses bad mask options when the Sundial is made, naming the field and the value', () => {
    expect(() => createSundial({ store: { path: ':memory:' }, mask: { rules: ['acme'] as never } })).toThrow(
      InvalidOptionError,
    );
    expect(() => createSundial({ store: { path: ':memory:' }, mask: { rules: ['acme'] as never } })).toThrow(
      'Invalid options.mask.rules[0]: "acme" (a RegExp or a function (text) => text)',
    );
  });
});
