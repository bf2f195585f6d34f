import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  FakeClock,
  InvalidOptionError,
  type Job,
  Schedule,
  type Scheduler,
  type Sundial,
  type SundialEvents,
} from '../../src/index.ts';
import { interpose, tempDir, waitFor } from '../helpers.ts';

const T0 = Date.UTC(2026, 5, 10, 12, 0, 0); // a Wednesday, on the minute

describe('scheduler', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: FakeClock;
  let sundial: Sundial;
  const schedulers: Scheduler[] = [];

  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock(T0 - 500);
    sundial = createSundial({ store: { path: join(dir.path, 'scheduler.db') }, clock });
  });
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.close()));
    await sundial.close();
    dir.cleanup();
  });

  /** A scheduler driven by hand: sync now, then `tick()` after moving the clock. */
  async function scheduler(define: (schedule: Schedule) => void, options = {}): Promise<Scheduler> {
    const schedule = new Schedule();
    define(schedule);
    const s = sundial.scheduler(schedule, { autostart: false, environment: 'test', ...options });
    schedulers.push(s);
    await s.sync();
    return s;
  }

  function record<Name extends keyof SundialEvents & string>(name: Name): SundialEvents[Name][] {
    const seen: SundialEvents[Name][] = [];
    sundial.on(name, (event) => seen.push(event));
    return seen;
  }

  const jobsOf = async (queue: string): Promise<Job[]> =>
    sundial.queue(queue).listJobs(undefined, { limit: 1000 });
  const at = (ms: number) => new Date(ms).toISOString();

  it('fires each occurrence into the task’s queue with its payload and where it came from', async () => {
    const fired = record('task.fired');
    const s = await scheduler((schedule) =>
      schedule.job('reports', 'build', { kind: 'hourly' }).everyMinute().allowOverlapping(),
    );
    await s.tick();
    expect(await jobsOf('reports')).toEqual([]); // nothing due yet
    clock.set(T0 + 5);
    await s.tick();
    clock.set(T0 + 60_000 + 3);
    await s.tick();
    await s.tick(); // nothing new
    const jobs = await jobsOf('reports');
    expect(jobs.map((j) => [j.name, j.payload, j.origin])).toEqual([
      ['build', { kind: 'hourly' }, { schedule: 'job:reports:build', scheduledFor: T0, catchUp: false }],
      [
        'build',
        { kind: 'hourly' },
        { schedule: 'job:reports:build', scheduledFor: T0 + 60_000, catchUp: false },
      ],
    ]);
    expect(fired.map((f) => at(f.scheduledFor))).toEqual([at(T0), at(T0 + 60_000)]);
    expect(s.nextDueAt()).toBe(T0 + 120_000);
  });

  it('gives a job task’s jobs its options', async () => {
    const s = await scheduler((schedule) =>
      schedule.job('reports', 'build', null, { attempts: 7, timeout: 900, priority: 3 }).everyMinute(),
    );
    clock.set(T0);
    await s.tick();
    expect((await jobsOf('reports'))[0]).toMatchObject({ maxAttempts: 7, timeout: 900, priority: 3 });
  });

  it('queues call, command and ping tasks for the task runner, which times them itself (the job’s timeout is a backstop)', async () => {
    const s = await scheduler((schedule) => {
      schedule
        .call(() => {})
        .name('cleanup')
        .everyMinute()
        .timeoutAfter(5000);
    });
    clock.set(T0);
    await s.tick();
    const [job] = await jobsOf('sundial.tasks');
    expect(job).toMatchObject({
      name: 'task',
      payload: { taskId: 'cleanup' },
      maxAttempts: 1,
      timeout: 2 * 5000 + 300_000,
    });
  });

  it('gives a job task’s jobs its timeout, unless the job options set one', async () => {
    const s = await scheduler((schedule) => {
      schedule.job('q', 'a').everyMinute().timeoutAfter(5000);
      schedule.job('q', 'b', null, { timeout: 7000 }).everyMinute().timeoutAfter(5000);
    });
    clock.set(T0);
    await s.tick();
    expect((await jobsOf('q')).map((job) => [job.name, job.timeout])).toEqual([
      ['a', 5000],
      ['b', 7000],
    ]);
  });

  it('skips occurrences missed while no scheduler ran, by default', async () => {
    const skipped = record('task.skipped');
    const s = await scheduler((schedule) => schedule.job('q', 'tick').everyMinute().allowOverlapping());
    clock.set(T0 + 5 * 60_000 + 2_000); // down for five minutes
    await s.tick();
    const jobs = await jobsOf('q');
    expect(jobs.map((j) => at(j.origin!.scheduledFor))).toEqual([at(T0 + 5 * 60_000)]);
    expect(skipped.map((e) => [at(e.scheduledFor), e.reason])).toEqual(
      [0, 1, 2, 3, 4].map((m) => [at(T0 + m * 60_000), 'missed']),
    );
    expect(s.nextDueAt()).toBe(T0 + 6 * 60_000);
  });

  it('runs one catch-up after downtime with misfire("once")', async () => {
    const s = await scheduler((schedule) => schedule.job('q', 'tick').everyMinute().misfire('once'));
    clock.set(T0 + 3 * 60_000 + 30_000);
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.origin)).toEqual([
      { schedule: 'job:q:tick', scheduledFor: T0 + 3 * 60_000, catchUp: true },
    ]);
  });

  it('runs every missed occurrence within the window with catchUp({ window })', async () => {
    const s = await scheduler((schedule) =>
      schedule.job('q', 'tick').everyMinute().allowOverlapping().catchUp({ window: 150_000 }),
    );
    clock.set(T0 + 4 * 60_000 + 30_000);
    await s.tick();
    expect((await jobsOf('q')).map((j) => [at(j.origin!.scheduledFor), j.origin!.catchUp])).toEqual([
      [at(T0 + 2 * 60_000), true],
      [at(T0 + 3 * 60_000), true],
      [at(T0 + 4 * 60_000), true],
    ]);
  });

  it('skips an occurrence while the previous run is still going (the default overlap policy)', async () => {
    const skipped = record('task.skipped');
    const s = await scheduler((schedule) => schedule.job('q', 'slow').everyMinute());
    clock.set(T0);
    await s.tick();
    clock.set(T0 + 60_000);
    await s.tick(); // the first job was never taken: still waiting
    expect(await jobsOf('q')).toHaveLength(1);
    expect(skipped).toEqual([{ taskId: 'job:q:slow', scheduledFor: T0 + 60_000, reason: 'overlap' }]);
    const [first] = await jobsOf('q');
    await sundial.queue('q').cancel(first!.id); // it ended
    clock.set(T0 + 120_000);
    await s.tick();
    expect(await jobsOf('q')).toHaveLength(2);
  });

  it('records a constraint’s refusal as skipped and moves on', async () => {
    const skipped = record('task.skipped');
    let open = false;
    const s = await scheduler((schedule) => {
      schedule
        .job('q', 'gated')
        .everyMinute()
        .when(() => open);
      schedule
        .job('q', 'vetoed')
        .everyMinute()
        .skip(async () => true);
    });
    clock.set(T0);
    await s.tick();
    expect(skipped.map((e) => [e.taskId, e.reason])).toEqual([
      ['job:q:gated', 'constraint'],
      ['job:q:vetoed', 'constraint'],
    ]);
    open = true;
    clock.set(T0 + 60_000);
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.name)).toEqual(['gated']);
  });

  it('counts a check that takes too long as failed, and does not wait on one when closing', async () => {
    const errors = record('error');
    const skipped = record('task.skipped');
    let asked = 0;
    const s = await scheduler(
      (schedule) =>
        schedule
          .job('q', 'hung')
          .everyMinute()
          .when(() => {
            asked++;
            return new Promise<boolean>(() => {});
          }),
      { checkTimeoutMs: 50 },
    );
    clock.set(T0);
    await s.tick();
    expect(skipped.map((e) => [e.taskId, e.reason])).toEqual([['job:q:hung', 'constraint']]);
    expect(String((errors[0]!.error as Error).message)).toContain('took longer than 50 ms');
    // Next minute: the check hangs again, and the scheduler is closed meanwhile.
    clock.set(T0 + 60_000);
    const tick = s.tick();
    await waitFor(() => asked === 2);
    await s.close();
    await tick;
    expect(await jobsOf('q')).toEqual([]);
    // The occurrence was not spent: the store still has it as the next run, for another scheduler.
    const [stored] = await sundial.store.listSchedules();
    expect(stored!.nextRunAt).toBe(T0 + 60_000);
  });

  it('leaves a task to the processes that share its stored definition when another version synced', async () => {
    const errors = record('error');
    const old = await scheduler((schedule) =>
      schedule.job('q', 'report').name('report').everyMinute().allowOverlapping(),
    );
    const current = await scheduler((schedule) =>
      schedule.job('q', 'report').name('report').everyFiveMinutes().allowOverlapping(),
    );
    clock.set(T0);
    await old.tick();
    await old.tick();
    await current.tick();
    const jobs = await jobsOf('q');
    expect(jobs).toHaveLength(1); // fired by `current`, whose definition is the stored one
    expect(errors).toHaveLength(1); // told once, not at every reload
    expect(String((errors[0]!.error as Error).message)).toMatch(
      /Task "report" is defined differently in the store/,
    );
    expect(old.nextDueAt()).toBeNull();

    // The process with the stored definition goes away: once its next run is overdue and nobody
    // fired it, the other scheduler records its own definition and fires from then on.
    await current.close();
    clock.set(T0 + 5 * 60_000 + 30_000);
    await old.tick();
    expect(String((errors[1]!.error as Error).message)).toMatch(/Tasks "report": .* not fired when due/);
    clock.set(T0 + 6 * 60_000);
    await old.tick();
    expect((await jobsOf('q')).map((job) => at(job.origin!.scheduledFor))).toEqual([
      at(T0),
      at(T0 + 6 * 60_000),
    ]);
  });

  it('refuses unknown scheduler options and bad values, naming them', () => {
    const schedule = new Schedule();
    expect(() => sundial.scheduler(schedule, { autostart: false, misfireGrace: 5 } as never)).toThrow(
      /Invalid scheduler\.misfireGrace: 5 \(not a scheduler option/,
    );
    expect(() => sundial.scheduler(schedule, { autostart: false, maxSleepMs: -1 })).toThrow(
      /Invalid scheduler\.maxSleepMs: -1/,
    );
    expect(() => sundial.scheduler(schedule, { autostart: false, checkTimeoutMs: 2 ** 31 })).toThrow(
      /Invalid scheduler\.checkTimeoutMs: 2147483648/,
    );
    expect(() => sundial.scheduler(schedule, { autostart: false, taskQueue: '' })).toThrow(
      /scheduler\.taskQueue/,
    );
  });

  it('holds back tasks in maintenance mode, except those that run even then', async () => {
    const skipped = record('task.skipped');
    const s = await scheduler((schedule) => {
      schedule.job('q', 'report').everyMinute();
      schedule.job('q', 'health').everyMinute().evenInMaintenanceMode();
    });
    await sundial.store.setFlag('maintenance', '{}');
    clock.set(T0);
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.name)).toEqual(['health']);
    expect(skipped).toEqual([{ taskId: 'job:q:report', scheduledFor: T0, reason: 'maintenance' }]);
    await sundial.store.setFlag('maintenance', null);
    clock.set(T0 + 60_000);
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.name).sort()).toEqual(['health', 'report']);
  });

  it('catches up over a window longer than one tick can fire, losing nothing', async () => {
    const s = await scheduler((schedule) =>
      schedule.job('q', 'tick').everyMinute().allowOverlapping().catchUp({ window: 86_400_000 }),
    );
    clock.set(T0 + 2 * 86_400_000 + 1000); // down for two days
    await s.tick();
    const q = sundial.queue('q');
    const jobs = [
      ...(await q.listJobs(undefined, { limit: 1000 })),
      ...(await q.listJobs(undefined, { limit: 1000, offset: 1000 })),
    ];
    const times = jobs.map((j) => j.origin!.scheduledFor);
    // Every minute within the day-long window (more than one batch of 1000), each once.
    expect(times.length).toBe(1440);
    expect(new Set(times).size).toBe(times.length);
    expect(Math.min(...times)).toBe(T0 + 86_400_000 + 60_000);
    expect(Math.max(...times)).toBe(T0 + 2 * 86_400_000);
  });

  it('with misfire("once") after a long outage fires the latest missed occurrence', async () => {
    const s = await scheduler((schedule) => schedule.job('q', 'tick').everyMinute().misfire('once'));
    clock.set(T0 + 2000 * 60_000 + 30_000);
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.origin)).toEqual([
      { schedule: 'job:q:tick', scheduledFor: T0 + 2000 * 60_000, catchUp: true },
    ]);
  });

  it('keeps a task whose fire failed on a store error, and fires it on the next tick', async () => {
    const store = sundial.store;
    let failures = 1;
    const flaky = createSundial({
      store: interpose(store, {
        fireSchedule: (request) =>
          failures-- > 0 ? Promise.reject(new Error('database is locked')) : store.fireSchedule(request),
      }),
      clock,
    });
    const schedule = new Schedule();
    schedule.job('q', 'tick').everyMinute();
    const s = flaky.scheduler(schedule, { autostart: false, environment: 'test' });
    schedulers.push(s);
    await s.sync();
    clock.set(T0);
    await expect(s.tick()).rejects.toThrow('database is locked');
    await s.tick();
    expect((await jobsOf('q')).map((j) => j.origin!.scheduledFor)).toEqual([T0]);
  });

  it('a scheduler that lost the race for an occurrence reads the store and fires what follows', async () => {
    const define = (schedule: Schedule) => schedule.job('q', 'tick').everySecond().allowOverlapping();
    const a = await scheduler(define);
    const b = await scheduler(define);
    clock.set(T0 + 10);
    await a.tick(); // a fires 12:00:00
    clock.set(T0 + 2500);
    await b.tick(); // b, late, loses the race for 12:00:00
    await b.tick(); // and, having read the store, fires 12:00:01 and 12:00:02
    const times = (await jobsOf('q')).map((j) => j.origin!.scheduledFor);
    expect(times).toEqual([T0, T0 + 1000, T0 + 2000]);
  });

  it('leaves out tasks meant for other environments', async () => {
    const s = await scheduler((schedule) => {
      schedule.job('q', 'prod').everyMinute().environments(['production']);
      schedule.job('q', 'here').everyMinute().environments(['test', 'staging']);
    });
    expect(s.taskIds).toEqual(['job:q:here']);
    expect((await sundial.store.listSchedules()).map((r) => r.id)).toEqual(['job:q:here']);
  });

  it('fires each occurrence once when two schedulers share the store', async () => {
    const define = (schedule: Schedule) => schedule.job('q', 'tick').everyMinute().allowOverlapping();
    const a = await scheduler(define);
    const b = await scheduler(define);
    for (let minute = 0; minute < 5; minute++) {
      clock.set(T0 + minute * 60_000 + 10);
      await Promise.all([a.tick(), b.tick()]);
    }
    const times = (await jobsOf('q')).map((j) => j.origin!.scheduledFor);
    expect(times).toEqual([0, 1, 2, 3, 4].map((m) => T0 + m * 60_000));
  });

  it('does not fire a paused task, and picks it up again once resumed', async () => {
    const s = await scheduler((schedule) => schedule.job('q', 'tick').everyMinute().allowOverlapping());
    await sundial.store.setSchedulePaused('job:q:tick', true, 'quiet please', clock.now());
    clock.set(T0 + 1);
    await s.tick();
    expect(await jobsOf('q')).toEqual([]);
    await sundial.store.setSchedulePaused('job:q:tick', false, null, clock.now());
    clock.set(T0 + 2);
    await s.tick();
    expect(await jobsOf('q')).toHaveLength(1);
  });

  it('takes a changed frequency from the definition, keeping an unchanged one’s state', async () => {
    await scheduler((schedule) => schedule.job('q', 'tick').hourly());
    expect((await sundial.store.listSchedules())[0]!.nextRunAt).toBe(T0);
    clock.set(T0 + 20 * 60_000);
    await scheduler((schedule) => schedule.job('q', 'tick').hourly()); // same spec: the missed 12:00 stays
    expect((await sundial.store.listSchedules())[0]!.nextRunAt).toBe(T0);
    await scheduler((schedule) => schedule.job('q', 'tick').everyThirtyMinutes());
    expect((await sundial.store.listSchedules())[0]!.nextRunAt).toBe(T0 + 30 * 60_000);
  });

  it('delays each fire by up to its jitter', async () => {
    const s = await scheduler((schedule) => schedule.job('q', 'tick').everyMinute().withJitter(5000));
    clock.set(T0);
    await s.tick();
    const [job] = await jobsOf('q');
    expect(job!.runAt).toBeGreaterThanOrEqual(T0);
    expect(job!.runAt).toBeLessThanOrEqual(T0 + 5000);
  });

  it('refuses bufferOne and replace for a job task, whose handler takes no lock to take turns with', async () => {
    for (const policy of ['bufferOne', 'replace'] as const) {
      const schedule = new Schedule();
      schedule.job('q', 'x').everyMinute().overlap(policy);
      expect(() => sundial.scheduler(schedule, { autostart: false })).toThrow(InvalidOptionError);
      expect(() => schedule.load()).toThrow(`Invalid tasks["job:q:x"].overlap: "${policy}"`);
    }
  });

  /** Claims every waiting job of a queue, as a worker would, so they are active. */
  const start = (queue: string) =>
    sundial.store.claimJobs({
      queue,
      owner: 'w',
      limit: 10,
      now: clock.now(),
      leaseExpiresAt: clock.now() + 600_000,
    });

  it('bufferOne: while a run is going, keeps one more run waiting and skips the rest', async () => {
    const fired = record('task.fired');
    const skipped = record('task.skipped');
    const s = await scheduler((schedule) =>
      schedule
        .call(() => {})
        .name('b')
        .everyMinute()
        .overlap('bufferOne'),
    );
    clock.set(T0);
    await s.tick();
    await s.tick();
    clock.set(T0 + 60_000);
    await s.tick(); // the first run never started: it stands for this occurrence too
    expect(await jobsOf('sundial.tasks')).toHaveLength(1);
    await start('sundial.tasks');
    clock.set(T0 + 120_000);
    await s.tick(); // the first run is going: this one waits behind it
    clock.set(T0 + 180_000);
    await s.tick(); // one is going and one is waiting: skipped
    const jobs = await jobsOf('sundial.tasks');
    expect(jobs.map((job) => [job.state, job.dedupeKey, at(job.origin!.scheduledFor)])).toEqual([
      ['active', 'b', at(T0)],
      ['waiting', 'b#next', at(T0 + 120_000)],
    ]);
    expect(fired.map((event) => at(event.scheduledFor))).toEqual([at(T0), at(T0 + 120_000)]);
    expect(skipped.map((event) => [at(event.scheduledFor), event.reason])).toEqual([
      [at(T0 + 60_000), 'overlap'],
      [at(T0 + 180_000), 'overlap'],
    ]);
  });

  it('replace: cancels the run still going and adds the new occurrence’s run', async () => {
    const replaced = record('task.replaced');
    const s = await scheduler((schedule) =>
      schedule
        .call(() => {})
        .name('r')
        .everyMinute()
        .overlap('replace'),
    );
    clock.set(T0);
    await s.tick();
    const [first] = await start('sundial.tasks');
    clock.set(T0 + 60_000);
    await s.tick();
    const jobs = await jobsOf('sundial.tasks');
    expect(jobs.map((job) => [job.id, job.state, at(job.origin!.scheduledFor)])).toEqual([
      [first!.id, 'cancelled', at(T0)],
      [jobs[1]!.id, 'waiting', at(T0 + 60_000)],
    ]);
    expect(replaced).toEqual([{ taskId: 'r', scheduledFor: T0 + 60_000, jobId: first!.id }]);
  });
});

describe('scheduler in real time', () => {
  it('fires a one-second task every second, each occurrence once', async () => {
    const dir = tempDir();
    const sundial = createSundial({ store: { path: join(dir.path, 'live.db') } });
    try {
      const schedule = new Schedule();
      schedule.job('ticks', 'tick').everySecond().allowOverlapping();
      const fired: number[] = [];
      sundial.on('task.fired', ({ scheduledFor }) => fired.push(scheduledFor));
      await sundial.scheduler(schedule).start();
      await waitFor(() => fired.length >= 3, { timeoutMs: 10_000, message: 'three fires' });
      const jobs = await sundial.queue('ticks').listJobs(undefined, { limit: 100 });
      const times = jobs.map((j) => j.origin!.scheduledFor);
      expect(new Set(times).size).toBe(times.length);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    } finally {
      await sundial.close();
      dir.cleanup();
    }
  });
});
