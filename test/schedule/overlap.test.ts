import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial, FakeClock, Schedule, type Sundial, type SundialEvents } from '../../src/index.ts';
import { tempDir, waitFor } from '../helpers.ts';

const T0 = Date.UTC(2026, 5, 10, 12, 0, 0);
const MINUTE = 60_000;

/**
 * Overlap policies end to end: a scheduler driven by a fake clock fires a task every minute, a real
 * task worker runs it, and each run holds the task's lock in the store.
 */
describe('overlap policies with a task worker', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: FakeClock;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock(T0 - 500);
    sundial = createSundial({ store: { path: join(dir.path, 'overlap.db') }, clock });
  });
  afterEach(async () => {
    await sundial.close({ graceMs: 0 });
    dir.cleanup();
  });

  function record<Name extends keyof SundialEvents & string>(name: Name): SundialEvents[Name][] {
    const seen: SundialEvents[Name][] = [];
    sundial.on(name, (event) => seen.push(event));
    return seen;
  }

  /** A gate per run, opened by the test: a run lasts until its gate opens (or it is aborted). */
  function gates() {
    const open = new Map<number, () => void>();
    const log: string[] = [];
    const minute = (scheduledFor: number) => (scheduledFor - T0) / MINUTE;
    const run = async ({ scheduledFor, signal }: { scheduledFor: number; signal: AbortSignal }) => {
      log.push(`start ${minute(scheduledFor)}`);
      await new Promise<void>((resolve, reject) => {
        open.set(minute(scheduledFor), resolve);
        signal.addEventListener('abort', () => {
          log.push(`aborted ${minute(scheduledFor)}`);
          reject(signal.reason);
        });
      });
      log.push(`end ${minute(scheduledFor)}`);
    };
    return { log, run, release: (m: number) => open.get(m)?.() };
  }

  async function fireAt(scheduler: { tick(): Promise<void> }, minutes: number) {
    clock.set(T0 + minutes * MINUTE);
    await scheduler.tick();
  }

  it('bufferOne: the buffered run starts right after the current one ends, never beside it', async () => {
    const { log, run, release } = gates();
    const skipped = record('task.skipped');
    const schedule = new Schedule();
    schedule.call(run).name('buffered').everyMinute().overlap('bufferOne');
    // The fake clock jumps minutes at a time: a lock TTL longer than the test keeps the lock held.
    sundial.taskWorker(schedule, { concurrency: 5, lockTtlMs: 3_600_000 });
    const scheduler = sundial.scheduler(schedule, { autostart: false });
    await scheduler.sync();
    await fireAt(scheduler, 0);
    await waitFor(() => log.includes('start 0'));
    await fireAt(scheduler, 1); // buffered behind the run of minute 0
    await fireAt(scheduler, 2); // one waiting already: skipped
    // The buffered run is claimed (a free slot) but waits for the lock, so it has not started.
    await waitFor(async () => (await sundial.queue('sundial.tasks').counts()).active === 2);
    expect(log).toEqual(['start 0']);
    release(0);
    await waitFor(() => log.includes('start 1'));
    release(1);
    await waitFor(() => log.includes('end 1'));
    await waitFor(async () => (await sundial.queue('sundial.tasks').counts()).completed === 2);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1']);
    // Minute 2 found one run going and one waiting: it was skipped, and no third run was ever added.
    expect(skipped).toEqual([{ taskId: 'buffered', scheduledFor: T0 + 2 * MINUTE, reason: 'overlap' }]);
    expect(await sundial.queue('sundial.tasks').listJobs()).toHaveLength(2);
  });

  it('replace: the running run is aborted and the new occurrence runs, with task events for both', async () => {
    const { log, run, release } = gates();
    const starting = record('task.starting');
    const interrupted = record('task.interrupted');
    const finished = record('task.finished');
    const schedule = new Schedule();
    schedule.call(run).name('replaced').everyMinute().overlap('replace');
    // Heartbeats far apart: only the cancel notice can stop the old run in time.
    sundial.taskWorker(schedule, {
      concurrency: 5,
      leaseMs: 600_000,
      heartbeatMs: 300_000,
      lockTtlMs: 3_600_000,
    });
    const scheduler = sundial.scheduler(schedule, { autostart: false });
    await scheduler.sync();
    await fireAt(scheduler, 0);
    await waitFor(() => log.includes('start 0'));
    await fireAt(scheduler, 1);
    await waitFor(() => log.includes('start 1'), { message: 'the replacing run to start' });
    release(1);
    await waitFor(() => finished.length === 1);
    expect(log).toEqual(['start 0', 'aborted 0', 'start 1', 'end 1']);
    const jobs = await sundial.queue('sundial.tasks').listJobs();
    expect(jobs.map((job) => job.state)).toEqual(['cancelled', 'completed']);
    expect(starting.map((event) => [event.taskId, event.runId])).toEqual([
      ['replaced', jobs[0]!.id],
      ['replaced', jobs[1]!.id],
    ]);
    expect(interrupted).toEqual([{ taskId: 'replaced', runId: jobs[0]!.id, scheduledFor: T0 }]);
    expect(finished[0]).toMatchObject({ taskId: 'replaced', runId: jobs[1]!.id, scheduledFor: T0 + MINUTE });
  });

  it('tells a job task’s failed attempt as task.retrying, then its success as task.finished', async () => {
    const retrying = record('task.retrying');
    const finished = record('task.finished');
    const schedule = new Schedule();
    schedule
      .job('reports', 'build', null, { attempts: 2, backoff: { type: 'none' } })
      .name('report')
      .everyMinute();
    let calls = 0;
    sundial.worker('reports', {
      build: () => {
        calls++;
        if (calls === 1) throw new Error('database busy');
        return 'built';
      },
    });
    const scheduler = sundial.scheduler(schedule, { autostart: false });
    await scheduler.sync();
    await fireAt(scheduler, 0);
    await waitFor(() => finished.length === 1);
    expect(retrying).toHaveLength(1);
    expect(retrying[0]).toMatchObject({ taskId: 'report', scheduledFor: T0 });
    expect(retrying[0]!.error.message).toBe('database busy');
    expect(finished[0]).toMatchObject({ taskId: 'report', runId: retrying[0]!.runId, output: null });
  });

  it('tells a failed run as task.failed and a skipped one as task.skipped', async () => {
    const failed = record('task.failed');
    const skipped = record('task.skipped');
    const schedule = new Schedule();
    schedule
      .call(() => {
        throw new Error('disk full');
      })
      .name('broken')
      .everyMinute();
    schedule
      .call(() => {})
      .name('locked')
      .everyMinute();
    const held = await sundial.locks.acquire('task:locked', { runId: 'a manual run' });
    sundial.taskWorker(schedule);
    const scheduler = sundial.scheduler(schedule, { autostart: false });
    await scheduler.sync();
    await fireAt(scheduler, 0);
    await waitFor(() => failed.length === 1 && skipped.length === 1);
    expect(failed[0]).toMatchObject({ taskId: 'broken', scheduledFor: T0 });
    expect(failed[0]!.error.message).toContain('disk full');
    expect(skipped).toEqual([{ taskId: 'locked', scheduledFor: T0, reason: 'overlap' }]);
    await held!.release();
  });
});
