import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  type OperationInfo,
  Schedule,
  type Sundial,
  SundialError,
} from '../../src/index.ts';
import { findAll, killJobs } from '../conformance/search-conformance.ts';
import { enginesUnderTest, useSharedStore } from '../process/children.ts';

const ERROR = { name: 'SmtpError', message: 'mailbox unavailable', category: 'error' as const };

/** Adds `count` jobs to `queue` in batches, straight into the store (fast, for large counts). */
async function addMany(sundial: Sundial, queue: string, count: number, name = 'send'): Promise<void> {
  const q = sundial.queue(queue);
  for (let at = 0; at < count; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, count - at) }, (_, i) => ({
      name,
      payload: { n: at + i },
    }));
    await q.addBulk(batch);
  }
}

/** The error a call is refused with. */
async function refusal(call: () => unknown): Promise<SundialError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof SundialError) return error;
    throw error;
  }
  throw new Error('the call was not refused');
}

/**
 * `sundial.admin` does the same on every engine: the admin conformance suite. Each test has a store
 * of its own (see `useSharedStore`).
 */
describe.each(await enginesUnderTest())('sundial.admin on %s', (engine) => {
  const shared = useSharedStore(engine);

  it('lists jobs by filter a page at a time with a total, and shows one with its attempts', async () => {
    const { sundial } = shared;
    await addMany(sundial, 'mail', 30, 'send');
    await addMany(sundial, 'mail', 5, 'digest');
    await killJobs(sundial.store, 4, 'mail', ERROR);
    const admin = sundial.admin;
    const first = await admin.jobs.list({ queue: 'mail', limit: 10 });
    expect(first.total).toEqual({ count: 35, exact: true });
    expect(first.jobs).toHaveLength(10);
    // Newest first by default; the cursor goes on from there.
    const ids = first.jobs.map((job) => Number(job.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const second = await admin.jobs.list({ queue: 'mail', limit: 10, cursor: first.next! });
    expect(Number(second.jobs[0]!.id)).toBeLessThan(ids.at(-1)!);

    const dead = await admin.jobs.list({ queue: 'mail', states: ['dead'] });
    expect(dead.total).toEqual({ count: 4, exact: true });
    const found = await admin.jobs.list({
      queue: 'mail',
      text: 'MAILBOX',
      createdFrom: new Date(0).toISOString(),
    });
    expect(found.jobs.map((job) => job.id).sort()).toEqual(dead.jobs.map((job) => job.id).sort());
    expect((await admin.jobs.list({ queue: 'mail', name: 'digest' })).total.count).toBe(5);

    const job = await admin.jobs.get({ queue: 'mail', id: dead.jobs[0]!.id });
    expect(job.state).toBe('dead');
    expect(job.history).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', worker: 'killer' }),
    ]);
    await expect(admin.jobs.get({ queue: 'other', id: job.id })).rejects.toThrow(/No job with id/);
  });

  it('refuses bad input naming the field and the value, and changes nothing', async () => {
    const { sundial } = shared;
    await addMany(sundial, 'mail', 3);
    const admin = sundial.admin;
    const cases: [() => unknown, string, RegExp][] = [
      [() => admin.jobs.list({ queue: 'mail', limit: 5000 }), 'limit', /5000.*1 to 1000/],
      [() => admin.jobs.list({ queue: 'mail', states: ['waiting', 'bogus'] }), 'states.1', /"bogus"/],
      [() => admin.jobs.list({ queue: 'mail', cursor: 'abc' }), 'cursor', /"abc"/],
      [() => admin.jobs.list({ queue: 'mail', colour: 'red' }), 'colour', /not a field of this call/],
      [() => admin.jobs.list({ queue: 'mail', createdFrom: 'yesterday' }), 'createdFrom', /"yesterday"/],
      [() => admin.jobs.list({ queue: 'mail', createdFrom: 2000, createdTo: 1000 }), 'createdTo', /1000/],
      [() => admin.jobs.list({ queue: '' }), 'queue', /""/],
      [() => admin.jobs.list({ queue: 'mail', name: 'a\u0000b' }), 'name', /letters, digits/],
      [() => admin.jobs.list({ queue: 'mail', text: 'x\u0000' }), 'text', /without NUL/],
      [() => admin.jobs.list({ queue: 'mail', createdFrom: '12' }), 'createdFrom', /ISO 8601/],
      [() => admin.jobs.retry({ queue: 'mail', id: '1; DROP TABLE jobs' }), 'id', /DROP TABLE/],
      [
        () => admin.jobs.bulk({ action: 'retry', filter: { queue: 'mail', states: ['waiting'] } }),
        'filter.states',
        /retry applies to jobs failed, dead, cancelled/,
      ],
      [() => admin.jobs.bulk({ action: 'explode', filter: { queue: 'mail' } }), 'action', /"explode"/],
      [() => admin.queues.obliterate({ queue: 'mail', confirm: 'mai' }), 'confirm', /"mai".*"mail"/],
      [() => admin.schedules.pause({ task: 't', note: 'x'.repeat(1001) }), 'note', /at most 1000/],
    ];
    for (const [call, field, message] of cases) {
      const error = await refusal(call);
      expect(error, field).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).field).toBe(field);
      expect(error.message).toMatch(new RegExp(`^Invalid ${field.replace('.', '\\.')}: `));
      expect(error.message).toMatch(message);
    }
    expect((await sundial.queue('mail').counts()).waiting).toBe(3);
    expect(await sundial.store.listQueues()).toEqual(['mail']);
  });

  it('retries, cancels, removes and promotes one job, saying why it cannot', async () => {
    const { sundial } = shared;
    const mail = sundial.queue('mail');
    const later = await mail.add('send', {}, { delay: 3_600_000 });
    const now = await mail.add('send', {});
    const admin = sundial.admin;
    expect((await admin.jobs.promote({ queue: 'mail', id: later.id })).state).toBe('waiting');
    await expect(admin.jobs.promote({ queue: 'mail', id: now.id })).rejects.toThrow(/is waiting.*delayed/);
    expect((await admin.jobs.cancel({ queue: 'mail', id: now.id })).state).toBe('cancelled');
    expect((await admin.jobs.retry({ queue: 'mail', id: now.id })).state).toBe('waiting');
    expect((await admin.jobs.remove({ queue: 'mail', id: now.id })).id).toBe(now.id);
    expect(await mail.getJob(now.id)).toBeNull();
  });

  it('retries 10,000 dead jobs by filter: a dry run counts them, the operation reports progress', async () => {
    const { sundial } = shared;
    await addMany(sundial, 'mail', 10_000);
    await killJobs(sundial.store, 10_000, 'mail', ERROR);
    await addMany(sundial, 'mail', 50); // waiting ones, which a retry of dead jobs leaves alone
    const admin = sundial.admin;
    expect(await admin.dlq.retryAll({ queue: 'mail', dryRun: true })).toEqual({
      dryRun: true,
      count: 10_000,
      exact: true,
    });
    const started = (await admin.jobs.bulk({
      action: 'retry',
      filter: { queue: 'mail', states: ['dead'] },
    })) as OperationInfo;
    expect(started).toMatchObject({ kind: 'retry', queue: 'mail', state: 'running', total: 10_000 });
    const seen: number[] = [];
    // Everything else in the process keeps running meanwhile (on SQLite every call settles at once).
    const done = await admin.operations.wait(started.id, (step) => seen.push(step.processed));
    expect(done).toMatchObject({
      state: 'done',
      processed: 10_000,
      changed: 10_000,
      skipped: 0,
      error: null,
    });
    expect(seen.length).toBeGreaterThan(100);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(admin.operations.get({ operation: started.id }).state).toBe('done');
    expect(await sundial.queue('mail').counts()).toMatchObject({ waiting: 10_050, dead: 0 });

    // A limit stops it there.
    await killJobs(sundial.store, 300, 'mail', ERROR);
    const limited = (await admin.dlq.purge({ queue: 'mail', limit: 120 })) as OperationInfo;
    expect(await admin.operations.wait(limited.id)).toMatchObject({ processed: 120, changed: 120 });
    expect((await sundial.queue('mail').counts()).dead).toBe(180);
  });

  it('keeps the dead-letter queue: list, show, retry one, purge', async () => {
    const { sundial } = shared;
    await addMany(sundial, 'mail', 6);
    await killJobs(sundial.store, 3, 'mail', ERROR);
    const admin = sundial.admin;
    const page = await admin.dlq.list({ queue: 'mail' });
    expect(page.total).toEqual({ count: 3, exact: true });
    expect(
      page.jobs.every((job) => job.state === 'dead' && job.error?.message === 'mailbox unavailable'),
    ).toBe(true);
    const [one] = page.jobs;
    expect((await admin.dlq.show({ queue: 'mail', id: one!.id })).id).toBe(one!.id);
    const waiting = (await admin.jobs.list({ queue: 'mail', states: ['waiting'] })).jobs[0]!;
    await expect(admin.dlq.show({ queue: 'mail', id: waiting.id })).rejects.toThrow(/is waiting/);
    expect((await admin.dlq.retry({ queue: 'mail', id: one!.id })).state).toBe('waiting');
    const purge = (await admin.dlq.purge({ queue: 'mail' })) as OperationInfo;
    expect(await admin.operations.wait(purge.id)).toMatchObject({ state: 'done', changed: 2 });
    expect(await sundial.queue('mail').counts()).toMatchObject({ waiting: 4, dead: 0 });
  });

  it('lists, pauses, resumes, drains and obliterates queues', async () => {
    const { sundial } = shared;
    const mail = sundial.queue('mail');
    await addMany(sundial, 'mail', 5);
    await mail.add('later', {}, { delay: 3_600_000 });
    await killJobs(sundial.store, 2, 'mail', ERROR);
    await addMany(sundial, 'other', 1);
    const admin = sundial.admin;
    expect(await admin.queues.pause({ queue: 'mail' })).toEqual({ queue: 'mail', paused: true });
    const listed = await admin.queues.list();
    expect(listed.map((queue) => queue.name).sort()).toEqual(['mail', 'other']);
    expect(listed.find((queue) => queue.name === 'mail')).toMatchObject({
      paused: true,
      counts: { waiting: 3, delayed: 1, dead: 2 },
    });
    await admin.queues.resume({ queue: 'mail' });
    expect(await mail.isPaused()).toBe(false);

    // Drain: waiting and delayed go, the dead stay.
    expect(await admin.queues.drain({ queue: 'mail', dryRun: true })).toEqual({
      dryRun: true,
      count: 4,
      exact: true,
    });
    const drain = (await admin.queues.drain({ queue: 'mail' })) as OperationInfo;
    expect(await admin.operations.wait(drain.id)).toMatchObject({ state: 'done', changed: 4 });
    expect(await mail.counts()).toMatchObject({ waiting: 0, delayed: 0, dead: 2 });

    // Obliterate: refused while a job runs, unless forced; then nothing of the queue is left.
    await addMany(sundial, 'mail', 1);
    await sundial.store.claimJobs({
      queue: 'mail',
      owner: 'w',
      limit: 1,
      now: Date.now(),
      leaseExpiresAt: Date.now() + 60_000,
    });
    await admin.queues.pause({ queue: 'mail' });
    await expect(admin.queues.obliterate({ queue: 'mail', confirm: 'mail' })).rejects.toThrow(
      /1 running job/,
    );
    const gone = await admin.queues.obliterate({ queue: 'mail', confirm: 'mail', force: true });
    // The running job is cancelled, then removed with the others: each job counted once.
    expect(await admin.operations.wait(gone.id)).toMatchObject({
      state: 'done',
      total: 3,
      changed: 3,
      error: null,
    });
    expect((await admin.queues.list()).map((queue) => queue.name)).toEqual(['other']);
    expect(await findAll(sundial.store, { queue: 'mail', order: 'asc', limit: 100 })).toEqual([]);
    expect(await mail.isPaused()).toBe(false);
  });

  it('lists schedules with next and last run; pauses with a note, resumes, triggers', async () => {
    const { sundial } = shared;
    const schedule = new Schedule();
    schedule
      .call(() => {})
      .name('report')
      .dailyAt('03:00');
    schedule
      .call(() => {})
      .name('cleanup')
      .hourly();
    const scheduler = sundial.scheduler(schedule, { autostart: false });
    await scheduler.sync(Date.now());
    const admin = sundial.admin;
    expect(await admin.schedules.pause({ task: 'report', note: 'quarter close' })).toEqual({
      task: 'report',
      paused: true,
    });
    const { jobId, duplicate } = await admin.schedules.trigger({ task: 'cleanup' });
    expect(duplicate).toBe(false);
    const rows = await admin.schedules.list({ upcoming: 2 });
    const report = rows.find((row) => row.id === 'report')!;
    const cleanup = rows.find((row) => row.id === 'cleanup')!;
    expect(report).toMatchObject({ defined: true, paused: true, note: 'quarter close', nextRunAt: null });
    expect(cleanup).toMatchObject({ paused: false, lastStatus: 'waiting', expression: '0 * * * *' });
    expect(cleanup.nextRunAt).toBeGreaterThan(Date.now());
    expect(cleanup.upcoming).toHaveLength(2);
    expect((await sundial.store.getJob(jobId))?.origin?.schedule).toBe('cleanup');
    await admin.schedules.resume({ task: 'report' });
    expect((await admin.schedules.list()).find((row) => row.id === 'report')).toMatchObject({
      paused: false,
    });
    await expect(admin.schedules.pause({ task: 'nope' })).rejects.toThrow(/No task "nope" in the store/);
    await expect(admin.schedules.trigger({ task: 'nope' })).rejects.toThrow(
      /No task "nope" \(known: report, cleanup\)/,
    );
  });

  it('lists and clears locks, and sets and clears the maintenance flag', async () => {
    const { sundial } = shared;
    const admin = sundial.admin;
    const held = await sundial.locks.acquire('task:report', { runId: 'run:1' });
    await sundial.locks.acquire('export', { runId: 'run:2' });
    expect((await admin.locks.list()).map((lock) => lock.name)).toEqual(['export', 'task:report']);
    expect(await admin.locks.clear({ task: 'report' })).toEqual({ cleared: 1 });
    expect(await admin.locks.clear()).toEqual({ cleared: 1 });
    expect(await admin.locks.list()).toEqual([]);
    await held?.release();

    expect(await admin.maintenance.status()).toEqual({ on: false, since: null, note: null });
    const down = await admin.maintenance.down({ note: 'db upgrade' });
    expect(await admin.maintenance.status()).toEqual(down);
    expect(down).toMatchObject({ on: true, note: 'db upgrade' });
    expect(await admin.maintenance.up()).toEqual({ wasOn: true });
    expect(await admin.maintenance.up()).toEqual({ wasOn: false });
  });
});
