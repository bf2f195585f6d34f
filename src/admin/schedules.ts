import { type Job, SundialError } from '../core/index.ts';
import type { AdminContext } from './context.ts';
import { SCHEDULE_LIST, SCHEDULE_PAUSE, SCHEDULE_REF, SCHEDULE_TRIGGER } from './schemas.ts';
import { parseInput } from './validate.ts';

/** A scheduled task as operators see it: when it runs, when it ran and how that went. */
export interface ScheduleSummary {
  id: string;
  /** False for a task recorded in the store that no scheduler of this process defines. */
  defined: boolean;
  frequency: string | null;
  expression: string | null;
  timezone: string | null;
  /** Null while paused (resuming counts the next run from then), or when it never runs again. */
  nextRunAt: number | null;
  /** When its latest run started (fired or started by hand); a skipped or missed occurrence ran nothing. */
  lastRunAt: number | null;
  /** The latest run's job state, or `skipped` when the task runner skipped it. */
  lastStatus: string | null;
  paused: boolean;
  note: string | null;
  tags: string[];
  /** The next runs, when asked for (`upcoming`). */
  upcoming?: number[];
}

/** Scheduled tasks: listed with their next and last run, paused with a note, resumed, triggered. */
export class SchedulesAdmin {
  private readonly context: AdminContext;

  constructor(context: AdminContext) {
    this.context = context;
  }

  async list(input: unknown = {}): Promise<ScheduleSummary[]> {
    const { upcoming } = parseInput(SCHEDULE_LIST, input);
    const [records, latest] = await Promise.all([
      this.context.store.listSchedules(),
      this.context.store.latestRuns(),
    ]);
    const byId = new Map(records.map((record) => [record.id, record]));
    const now = this.context.clock.now();
    const defined = this.context.tasks();
    const rows: ScheduleSummary[] = defined.map(({ definition, cron, frequency }) => {
      const record = byId.get(definition.id);
      const paused = record?.paused ?? false;
      return {
        id: definition.id,
        defined: true,
        frequency,
        expression: definition.schedule.expression,
        timezone: definition.schedule.timezone ?? 'local',
        nextRunAt: paused ? null : record ? record.nextRunAt : cron.next(now),
        ...lastRun(latest.get(definition.id)),
        paused,
        note: record?.note ?? null,
        tags: definition.tags,
        ...(upcoming > 0 ? { upcoming: cron.upcoming(upcoming, now) } : {}),
      };
    });
    const known = new Set(rows.map((row) => row.id));
    for (const record of records) {
      if (known.has(record.id)) continue;
      rows.push({
        id: record.id,
        defined: false,
        frequency: null,
        expression: null,
        timezone: null,
        nextRunAt: record.paused ? null : record.nextRunAt,
        ...lastRun(latest.get(record.id)),
        paused: record.paused,
        note: record.note,
        tags: [],
      });
    }
    return rows;
  }

  /** Stops firing a task, in every scheduler on the store, until it is resumed; with a note. */
  async pause(input: unknown): Promise<{ task: string; paused: true }> {
    const { task, note } = parseInput(SCHEDULE_PAUSE, input);
    await this.setPaused(task, true, note ?? null);
    return { task, paused: true };
  }

  /** Fires a paused task again; its next run counts from now, so the paused time is not replayed. */
  async resume(input: unknown): Promise<{ task: string; paused: false }> {
    const { task } = parseInput(SCHEDULE_REF, input);
    await this.setPaused(task, false, null);
    return { task, paused: false };
  }

  /** Adds a run of a task now, outside its schedule (a run already live is returned instead). */
  trigger(input: unknown): Promise<{ jobId: string; queue: string; duplicate: boolean }> {
    const { task, force } = parseInput(SCHEDULE_TRIGGER, input);
    return this.context.trigger(task, { force });
  }

  private async setPaused(task: string, paused: boolean, note: string | null): Promise<void> {
    const now = this.context.clock.now();
    const definition = this.context.tasks().find((t) => t.definition.id === task);
    const resumeAt = !paused && definition ? definition.cron.next(now - 1) : undefined;
    if (!(await this.context.store.setSchedulePaused(task, paused, note, now, resumeAt))) {
      throw new SundialError(
        'SUNDIAL_NO_SCHEDULE',
        `No task ${JSON.stringify(task)} in the store (its scheduler records it when it starts)`,
      );
    }
  }
}

function lastRun(job: Job | undefined): { lastRunAt: number | null; lastStatus: string | null } {
  if (!job) return { lastRunAt: null, lastStatus: null };
  const skipped = job.state === 'completed' && (job.result as { skipped?: unknown } | null)?.skipped;
  return { lastRunAt: job.startedAt ?? job.createdAt, lastStatus: skipped ? 'skipped' : job.state };
}
