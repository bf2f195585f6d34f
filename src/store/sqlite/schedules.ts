import type { Job } from '../../core/index.ts';
import { type JobRow, rowToJob, type ScheduleRow, scheduleFromRow } from '../rows.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  CANCELS_CHANNEL,
  type FireScheduleRequest,
  SCHEDULES_CHANNEL,
  type ScheduleRecord,
  type ScheduleStore,
  type ScheduleSync,
} from '../store.ts';
import type { SqliteContext } from './context.ts';
import type { Statements } from './statements.ts';

/** Scheduled tasks' records and their exactly-once fire: the SQLite engine's `ScheduleStore`. */
export class SqliteSchedules implements ScheduleStore {
  private readonly sqlite: SqliteContext;

  constructor(context: SqliteContext) {
    this.sqlite = context;
  }

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    const s = this.sqlite.prepared();
    const changed = await this.sqlite.transaction(() => {
      let count = 0;
      for (const entry of entries)
        count += Number(s.syncSchedule.run(entry.id, entry.specHash, entry.nextRunAt, now).changes);
      return count;
    });
    if (changed > 0) this.sqlite.announce([SCHEDULES_CHANNEL]);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    const s = this.sqlite.prepared();
    const result = await this.sqlite.transaction(() => {
      const { changes } = s.fireSchedule.run(
        request.nextRunAt,
        request.firedAt,
        request.firedAt,
        request.id,
        request.expectedNextRunAt,
      );
      if (changes !== 1) return { fired: false, added: [] as AddedJob[] };
      const added = this.sqlite.insertJobs(s, request.jobs);
      if (request.whenActive) this.resolveActiveHolders(s, request, added);
      return { fired: true, added };
    });
    if (result.added.length > 0) this.sqlite.announce(new Set(request.jobs.map((job) => job.queue)));
    if (result.added.some((added) => added.replaced !== undefined)) this.sqlite.announce([CANCELS_CHANNEL]);
    return result;
  }

  /** `whenActive` of `fireSchedule`, inside its transaction: replaces entries of `added` in place. */
  private resolveActiveHolders(s: Statements, request: FireScheduleRequest, added: AddedJob[]): void {
    request.jobs.forEach((job, i) => {
      const entry = added[i]!;
      if (!entry.duplicate) return;
      const holder = s.getJob.get(entry.id) as unknown as JobRow | undefined;
      if (holder?.state !== 'active') return;
      if (request.whenActive === 'replace') {
        s.cancel.run(request.firedAt, entry.id);
        added[i] = { ...this.sqlite.insertJobs(s, [job])[0]!, replaced: entry.id };
      } else {
        added[i] = this.sqlite.insertJobs(s, [
          { ...job, dedupeKey: `${job.dedupeKey}${BUFFERED_KEY_SUFFIX}` },
        ])[0]!;
      }
    });
  }

  async nextScheduleRunAt(): Promise<number | null> {
    const row = await this.sqlite.read(
      () => this.sqlite.prepared().nextScheduleRunAt.get() as { t: number | null },
    );
    return row.t;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const rows = await this.sqlite.read(
      () => this.sqlite.prepared().listSchedules.all() as unknown as ScheduleRow[],
    );
    return rows.map(scheduleFromRow);
  }

  async latestRuns(): Promise<Map<string, Job>> {
    const rows = await this.sqlite.read(() => this.sqlite.prepared().latestRuns.all());
    return new Map(
      (rows as unknown as (JobRow & { schedule: string })[]).map((row) => [row.schedule, rowToJob(row)]),
    );
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    const s = this.sqlite.prepared();
    const { changes } = await this.sqlite.transaction(() =>
      !paused && resumeAt !== undefined
        ? s.resumeScheduleAt.run(note, now, resumeAt, id)
        : s.pauseSchedule.run(paused ? 1 : 0, note, now, id),
    );
    if (changes === 1) this.sqlite.announce([SCHEDULES_CHANNEL]);
    return changes === 1;
  }
}
