import { type JobOrigin, newOwnerId, SundialError } from '../core/index.ts';
import type { Queue, SundialContext } from '../queue/index.ts';
import {
  type FireScheduleRequest,
  MAINTENANCE_FLAG,
  type NewJob,
  SCHEDULES_CHANNEL,
} from '../store/index.ts';
import { type Plan, planOccurrences } from './occurrences.ts';
import type { LoadedTask } from './schedule.ts';
import { checkSchedulerOptions, type SchedulerOptions } from './scheduler-options.ts';
import { specHash } from './spec-hash.ts';
import type { OverlapPolicy } from './task.ts';
import { TimeQueue } from './time-queue.ts';

export const DEFAULT_TASK_QUEUE = 'sundial.tasks';
export { checkSchedulerOptions, type SchedulerOptions } from './scheduler-options.ts';

/**
 * Timers fire at millisecond granularity and may wake just before the due millisecond, which would
 * cost a second timer. The scheduler sleeps until this close to the due time and then yields turn by
 * turn (a millisecond or two of spinning) so a fire lands within a fraction of a millisecond.
 */
const SPIN_MS = 2;
const CLOSED = Symbol('closed');
const WHEN_ACTIVE: Record<OverlapPolicy, FireScheduleRequest['whenActive']> = {
  skip: undefined,
  allow: undefined,
  bufferOne: 'buffer',
  replace: 'replace',
};

/** What a fire of a `call`, `command` or `ping` task carries to the task runner. */
export interface TaskRunPayload {
  taskId: string;
  /** Run by hand with `force`: the runner takes no lock for it, so a live run's lock stays its own. */
  force?: true;
}

/**
 * Fires scheduled tasks into the store. Any number of schedulers may share a store: each
 * occurrence is claimed by compare-and-set on the schedule's next run, in the same transaction
 * that adds its job, so it fires exactly once; the job's dedupe key guards a second time.
 *
 * Each scheduler keeps its own tasks' next occurrences in a time queue (seeded from the store, so
 * occurrences missed during downtime are seen), sleeps until the earliest, and wakes early when any
 * process changes a schedule. A tick costs in proportion to the tasks that are due.
 */
export class Scheduler {
  readonly id = newOwnerId('scheduler');
  private readonly context: SundialContext;
  private readonly queueOf: (name: string) => Queue;
  private readonly tasks = new Map<string, LoadedTask>();
  private readonly due = new TimeQueue<string>();
  private readonly options: Required<Omit<SchedulerOptions, 'autostart'>>;
  private state: 'idle' | 'running' | 'closed' = 'idle';
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private stale = true;
  /** Each task's spec hash, as this process defines it. */
  private readonly hashes = new Map<string, string>();
  /** Tasks already reported as defined differently in the store (reported once per hash seen). */
  private readonly conflicts = new Map<string, string>();
  /** Aborts on close: a `when`/`skip` check that never settles must not hold the close up. */
  private readonly closing = new AbortController();
  private reloadedAt = 0;
  /** Ticks run one at a time, whether the loop or someone else (`sundial run`, tests) calls. */
  private ticking: Promise<void> = Promise.resolve();
  private synced: Promise<void> = Promise.resolve();
  private markSynced: () => void = () => {};

  constructor(
    context: SundialContext,
    queueOf: (name: string) => Queue,
    tasks: readonly LoadedTask[],
    options: SchedulerOptions = {},
  ) {
    checkSchedulerOptions(options);
    this.context = context;
    this.queueOf = queueOf;
    this.options = {
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      misfireGraceMs: options.misfireGraceMs ?? 10_000,
      environment: options.environment ?? process.env.SUNDIAL_ENV ?? process.env.NODE_ENV ?? 'production',
      maxSleepMs: options.maxSleepMs ?? 60_000,
      checkTimeoutMs: options.checkTimeoutMs ?? 30_000,
    };
    for (const task of tasks) {
      const { environments, id } = task.definition;
      if (environments && !environments.includes(this.options.environment)) continue;
      this.tasks.set(id, task);
      this.hashes.set(id, specHash(task));
    }
    // Any process's change to a schedule (a pause, a resume, new definitions) means reading them again.
    this.unsubscribe = this.context.store.subscribe(SCHEDULES_CHANNEL, () => {
      this.stale = true;
      this.wakeUp?.();
    });
    if (options.autostart ?? true) void this.start();
  }

  /** The tasks this scheduler fires (after the environment filter). */
  get taskIds(): string[] {
    return [...this.tasks.keys()];
  }

  /** Records the definitions in the store and starts firing; resolves once they are recorded. */
  start(): Promise<void> {
    if (this.state !== 'idle') return this.synced;
    this.state = 'running';
    this.context.events.emit('scheduler.started', { scheduler: this.id, tasks: this.tasks.size });
    this.synced = new Promise((resolve) => {
      this.markSynced = resolve;
    });
    this.loop = this.run();
    return this.synced;
  }

  /**
   * Writes the definitions to the store (new ones, and changed specs with their next run). A new
   * task's first run is its first occurrence at or after `from` (default now): `sundial run` passes
   * the start of the minute, so a task due this minute fires on the first run as well.
   */
  async sync(from?: number): Promise<void> {
    const now = this.context.clock.now();
    const start = from ?? now;
    await this.context.store.syncSchedules(
      [...this.tasks.values()].map((task) => ({
        id: task.definition.id,
        specHash: this.hashes.get(task.definition.id)!,
        nextRunAt: task.cron.next(start - 1),
      })),
      now,
    );
    this.stale = true;
  }

  /** Fires every occurrence due at the clock's now. The loop calls it; tests and `run` may too. */
  tick(): Promise<void> {
    const tick = this.ticking.then(() => this.tickOnce());
    this.ticking = tick.catch(() => {});
    return tick;
  }

  private async tickOnce(): Promise<void> {
    // A task left to another process's definition is looked at again now and then, in case that
    // process is gone (see `reload`).
    if (this.conflicts.size > 0 && this.context.clock.now() - this.reloadedAt >= this.options.maxSleepMs)
      this.stale = true;
    if (this.stale) await this.reload();
    const now = this.context.clock.now();
    if (this.due.peekTime() === null || this.due.peekTime()! > now) return;
    // One read per tick with work to do: `sundial down` holds back every task not marked to run anyway.
    const maintenance = (await this.context.store.getFlag(MAINTENANCE_FLAG)) !== null;
    for (let time = this.due.peekTime(); time !== null && time <= now; time = this.due.peekTime()) {
      const { time: expected, item: id } = this.due.pop()!;
      const task = this.tasks.get(id)!;
      const plan = planOccurrences(task, expected, now, this.options.misfireGraceMs);
      let fired: boolean | 'closed';
      try {
        fired = await this.fire(task, expected, plan, now, maintenance);
      } catch (error) {
        // Not fired: keep the task (a busy store must not drop it for good) and read the store again.
        this.due.push(expected, id);
        this.stale = true;
        throw error;
      }
      if (fired === 'closed') {
        // Closed while a constraint was being checked: the occurrence is left for another scheduler.
        this.due.push(expected, id);
        return;
      }
      if (plan.next !== null) this.due.push(plan.next, id);
      // Someone else fired it, or it was paused: what the store says next may differ from our plan.
      if (!fired) this.stale = true;
    }
  }

  /**
   * Adds a run of a task now, outside its schedule (`sundial test`, `sundial run --force`). While a
   * run of a task that does not allow overlapping is still live, that run is returned instead.
   */
  async trigger(
    taskId: string,
    { force = false }: { force?: boolean } = {},
  ): Promise<{ jobId: string; queue: string; duplicate: boolean }> {
    const task = this.tasks.get(taskId);
    if (!task) {
      throw new SundialError(
        'SUNDIAL_UNKNOWN_TASK',
        `No task ${JSON.stringify(taskId)} (known: ${this.taskIds.join(', ')})`,
      );
    }
    const now = this.context.clock.now();
    const job = this.jobFor(task, now, false, now, force);
    const [added] = await this.context.store.addJobs([job]);
    if (!added!.duplicate) {
      this.context.events.emit('task.fired', { taskId, scheduledFor: now, catchUp: false, jobId: added!.id });
    }
    return { jobId: added!.id, queue: job.queue, duplicate: added!.duplicate };
  }

  /** The next time any of this scheduler's tasks is due, or null. */
  nextDueAt(): number | null {
    return this.due.peekTime();
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    this.closing.abort();
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.wakeUp?.();
    this.markSynced();
    await this.loop;
    if (wasRunning) this.context.events.emit('scheduler.stopped', { scheduler: this.id });
  }

  private async run(): Promise<void> {
    // The definitions go to the store first; a store that is not answering yet is tried again.
    while (this.state === 'running') {
      try {
        await this.sync();
        this.markSynced();
        break;
      } catch (error) {
        this.context.events.emit('error', {
          error,
          context: `scheduler ${this.id}: recording task definitions`,
        });
        await this.sleep(1000);
      }
    }
    while (this.state === 'running') {
      try {
        await this.tick();
      } catch (error) {
        this.context.events.emit('error', { error, context: `scheduler ${this.id}: firing tasks` });
        await this.sleep(1000); // the store is failing: do not spin on it
      }
      if (this.state !== 'running') break;
      if (this.stale) continue; // a change came in during the tick: read it before sleeping
      const next = this.due.peekTime();
      const sleep = next === null ? this.options.maxSleepMs : next - this.context.clock.now();
      if (sleep > SPIN_MS) {
        const backstop = sleep - SPIN_MS >= this.options.maxSleepMs;
        await this.sleep(Math.min(this.options.maxSleepMs, sleep - SPIN_MS));
        // A long sleep ends in a fresh read: notifications can be lost, the store never is.
        if (backstop) this.stale = true;
      } else if (sleep > 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.wakeUp = null;
        resolve();
      };
      this.wakeUp = done;
      this.timer = setTimeout(done, ms);
    });
  }

  /** Reads our tasks' next runs from the store: after a start, or a change by any process. */
  private async reload(): Promise<void> {
    const records = await this.context.store.listSchedules();
    this.stale = false;
    this.due.clear();
    const now = this.context.clock.now();
    this.reloadedAt = now;
    const orphaned: string[] = [];
    for (const record of records) {
      if (!this.tasks.has(record.id) || record.paused || record.nextRunAt === null) continue;
      if (record.specHash !== this.hashes.get(record.id)) {
        // Nobody fired the stored definition when it was due: whoever recorded it is gone.
        if (record.nextRunAt < now - this.options.misfireGraceMs) orphaned.push(record.id);
        else this.reportConflict(record.id, record.specHash);
        continue;
      }
      this.due.push(record.nextRunAt, record.id);
    }
    if (orphaned.length > 0) await this.takeOver(orphaned, now);
  }

  /** Records our definition of tasks whose stored one nobody fires any more, and fires them from now. */
  private async takeOver(ids: readonly string[], now: number): Promise<void> {
    const entries = ids.map((id) => ({
      id,
      specHash: this.hashes.get(id)!,
      nextRunAt: this.tasks.get(id)!.cron.next(now - 1),
    }));
    await this.context.store.syncSchedules(entries, now);
    for (const { id, nextRunAt } of entries) {
      this.conflicts.delete(id);
      if (nextRunAt !== null) this.due.push(nextRunAt, id);
    }
    this.warn(
      'SUNDIAL_DEFINITION_TAKEN_OVER',
      `Tasks ${ids.map((id) => JSON.stringify(id)).join(', ')}: the definition in the store was not fired when due, so this scheduler recorded its own and fires them from now.`,
    );
  }

  /**
   * Another process recorded a different definition of this task (another version of the app during
   * a deploy, or a host in another time zone where the task has none of its own). Its next run
   * was worked out for that definition, so this scheduler leaves the task to the processes that
   * share the stored one rather than fire it at times it would not choose.
   */
  private reportConflict(id: string, stored: string): void {
    if (this.conflicts.get(id) === stored) return;
    this.conflicts.set(id, stored);
    this.warn(
      'SUNDIAL_DEFINITION_CONFLICT',
      `Task ${JSON.stringify(id)} is defined differently in the store (spec ${stored}, here ${this.hashes.get(id)}): ` +
        'another process synced its own version, so this scheduler does not fire it (it takes the task ' +
        'over if that version stops being fired). Give every process the same definition (with ' +
        '.timezone() if hosts run in different zones).',
    );
  }

  /** Tells `error` listeners, or, with none, prints a process warning: this must not go unheard. */
  private warn(code: string, message: string): void {
    const error = new SundialError(code, message);
    if (this.context.events.has('error')) {
      this.context.events.emit('error', { error, context: `scheduler ${this.id}: reading schedules` });
    } else {
      process.emitWarning(message, { code });
    }
  }

  /** Fires the planned occurrences; false when the compare-and-set found the schedule moved on. */
  private async fire(
    task: LoadedTask,
    expected: number,
    plan: Plan,
    now: number,
    maintenance: boolean,
  ): Promise<boolean | 'closed'> {
    const { id } = task.definition;
    const held = maintenance && !task.definition.evenInMaintenanceMode;
    const verdict = plan.fire.length > 0 && !held ? await this.constraintsAllow(task) : false;
    if (verdict === 'closed') return 'closed';
    const allowed = verdict;
    const jobs = allowed
      ? plan.fire.map((occurrence) => this.jobFor(task, occurrence.at, occurrence.catchUp, now))
      : [];
    const result = await this.context.store.fireSchedule({
      id,
      expectedNextRunAt: expected,
      nextRunAt: plan.next,
      firedAt: now,
      jobs,
      // While a run is going, 'bufferOne' keeps one more waiting behind it (it waits for the task's
      // lock in the runner); 'replace' cancels it (its worker aborts it at once) for the new one.
      whenActive: WHEN_ACTIVE[task.definition.overlap],
    });
    if (!result.fired) return false; // another scheduler took this occurrence, or the task is paused
    const events = this.context.events;
    for (const at of plan.missed)
      events.emit('task.skipped', { taskId: id, scheduledFor: at, reason: 'missed' });
    if (!allowed) {
      const reason = held ? 'maintenance' : 'constraint';
      for (const { at } of plan.fire) events.emit('task.skipped', { taskId: id, scheduledFor: at, reason });
      return true;
    }
    result.added.forEach((added, i) => {
      const { at, catchUp } = plan.fire[i]!;
      if (added.duplicate) {
        events.emit('task.skipped', { taskId: id, scheduledFor: at, reason: 'overlap' });
        return;
      }
      if (added.replaced)
        events.emit('task.replaced', { taskId: id, scheduledFor: at, jobId: added.replaced });
      events.emit('task.fired', { taskId: id, scheduledFor: at, catchUp, jobId: added.id });
    });
    return true;
  }

  /** Whether `when` and `skip` let the task run; 'closed' when the scheduler closed meanwhile. */
  private async constraintsAllow(task: LoadedTask): Promise<boolean | 'closed'> {
    try {
      for (const check of task.definition.when) {
        const answer = await this.answer(check, task.definition.id);
        if (answer === CLOSED) return 'closed';
        if (!answer) return false;
      }
      for (const check of task.definition.skip) {
        const answer = await this.answer(check, task.definition.id);
        if (answer === CLOSED) return 'closed';
        if (answer) return false;
      }
      return true;
    } catch (error) {
      this.context.events.emit('error', {
        error,
        context: `scheduler ${this.id}: a when/skip check of task ${task.definition.id}`,
      });
      return false;
    }
  }

  /** A check's answer, unless it takes longer than `checkTimeoutMs` (an error) or we close first. */
  private answer(check: () => boolean | Promise<boolean>, taskId: string): Promise<unknown> {
    const signal = this.closing.signal;
    const timeoutMs = this.options.checkTimeoutMs;
    if (signal.aborted) return Promise.resolve(CLOSED);
    return new Promise((resolve, reject) => {
      const onClose = () => finish(() => resolve(CLOSED));
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new SundialError(
                'SUNDIAL_CHECK_TIMEOUT',
                `A when/skip check of task ${JSON.stringify(taskId)} took longer than ${timeoutMs} ms`,
              ),
            ),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onClose);
        settle();
      };
      signal.addEventListener('abort', onClose, { once: true });
      Promise.resolve()
        .then(check)
        .then(
          (value) => finish(() => resolve(value)),
          (error) => finish(() => reject(error)),
        );
    });
  }

  private jobFor(task: LoadedTask, at: number, catchUp: boolean, now: number, force = false): NewJob {
    const { definition } = task;
    const jitter = definition.jitterMs > 0 ? Math.floor(Math.random() * (definition.jitterMs + 1)) : 0;
    // 'skip': one live run per task, so an occurrence finds the previous one still going and is
    // skipped. 'allow': one per occurrence, which also guards a double fire of the same occurrence.
    // A forced run goes beside whatever runs: a key of its own.
    const dedupeKey = force
      ? `${definition.id}@forced:${newOwnerId('run')}`
      : definition.overlap === 'allow'
        ? `${definition.id}@${new Date(at).toISOString()}`
        : definition.id;
    const options = { dedupeKey, runAt: Math.max(now, at) + jitter };
    const action = definition.action;
    const job =
      action.kind === 'job'
        ? this.queueOf(action.queue).build(action.name, action.payload, {
            timeout: definition.timeoutMs ?? undefined,
            ...action.options,
            ...options,
          })
        : this.queueOf(this.options.taskQueue).build(
            'task',
            (force
              ? { taskId: definition.id, force: true }
              : { taskId: definition.id }) satisfies TaskRunPayload,
            { ...options, attempts: 1, timeout: backstopTimeout(definition.timeoutMs) },
          );
    const origin: JobOrigin = { schedule: definition.id, scheduledFor: at, catchUp };
    return { ...job, origin: JSON.stringify(origin) };
  }
}

/**
 * The task runner times a run itself (so a timed-out run keeps its output and runs its hooks); the
 * job's own timeout is only a backstop for a runner that cannot finish. It leaves room for waiting
 * behind the run before (bufferOne, replace: at most that run's own time), the kill grace of a
 * command and the hooks.
 */
function backstopTimeout(timeoutMs: number | null): number | undefined {
  return timeoutMs === null ? undefined : 2 * timeoutMs + 5 * 60_000;
}
