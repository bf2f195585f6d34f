import type pg from 'pg';
import type { Job } from '../../core/index.ts';
import { type JobRow, rowToJob, type ScheduleRow, scheduleFromRow } from '../rows.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  CANCELS_CHANNEL,
  type FireScheduleRequest,
  type NewJob,
  SCHEDULES_CHANNEL,
  type ScheduleRecord,
  type ScheduleStore,
  type ScheduleSync,
} from '../store.ts';
import type { PgContext } from './context.ts';
import { cancelRow } from './management.ts';

/** Inserts jobs in order inside a transaction, deduped (the store's own insert). */
export type InsertJobs = (client: pg.PoolClient, jobs: readonly NewJob[]) => Promise<AddedJob[]>;

/** Scheduled tasks' records and their exactly-once fire: the PostgreSQL engine's `ScheduleStore`. */
export class PgSchedules implements ScheduleStore {
  private readonly pg: PgContext;
  private readonly insertJobs: InsertJobs;

  constructor(context: PgContext, insertJobs: InsertJobs) {
    this.pg = context;
    this.insertJobs = insertJobs;
  }

  async latestRuns(): Promise<Map<string, Job>> {
    const { rows } = await this.pg.query<JobRow & { schedule: string }>(
      `SELECT DISTINCT ON (origin ->> 'schedule') origin ->> 'schedule' AS schedule, *
       FROM ${this.pg.q}.jobs WHERE origin IS NOT NULL ORDER BY origin ->> 'schedule', id DESC`,
    );
    return new Map(rows.map((row) => [row.schedule, rowToJob(row)]));
  }

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    if (entries.length === 0) return;
    const changed = await this.pg.transaction(async (client) => {
      // A changed spec takes its new next run; an unchanged one keeps its own (missed runs included).
      const { rowCount } = await client.query(
        `INSERT INTO ${this.pg.q}.schedules (id, spec_hash, next_run_at, updated_at)
         SELECT id, spec_hash, next_run_at, $4 FROM unnest($1::text[], $2::text[], $3::bigint[])
           AS entry(id, spec_hash, next_run_at)
         ON CONFLICT (id) DO UPDATE SET spec_hash = excluded.spec_hash, next_run_at = excluded.next_run_at,
           updated_at = excluded.updated_at
         WHERE schedules.spec_hash <> excluded.spec_hash`,
        [
          entries.map((entry) => entry.id),
          entries.map((entry) => entry.specHash),
          entries.map((entry) => entry.nextRunAt),
          now,
        ],
      );
      if ((rowCount ?? 0) > 0) await this.pg.notify(client, [SCHEDULES_CHANNEL]);
      return rowCount ?? 0;
    });
    if (changed > 0) this.pg.wakeLocal([SCHEDULES_CHANNEL]);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    const result = await this.pg.transaction(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE ${this.pg.q}.schedules SET next_run_at = $1, last_run_at = $2, updated_at = $2
         WHERE id = $3 AND next_run_at = $4 AND NOT paused`,
        [request.nextRunAt, request.firedAt, request.id, request.expectedNextRunAt],
      );
      if (rowCount !== 1) return { fired: false, added: [] as AddedJob[] };
      const added = await this.insertJobs(client, request.jobs);
      if (request.whenActive) await this.resolveActiveHolders(client, request, added);
      const woken = new Set(request.jobs.map((job) => job.queue));
      if (added.some((entry) => entry.replaced !== undefined)) woken.add(CANCELS_CHANNEL);
      if (added.length > 0) await this.pg.notify(client, woken);
      return { fired: true, added };
    });
    if (result.added.length > 0) {
      const woken = new Set(request.jobs.map((job) => job.queue));
      if (result.added.some((entry) => entry.replaced !== undefined)) woken.add(CANCELS_CHANNEL);
      this.pg.wakeLocal(woken);
    }
    return result;
  }

  async nextScheduleRunAt(): Promise<number | null> {
    const { rows } = await this.pg.query<{ t: number | null }>(
      `SELECT min(next_run_at) AS t FROM ${this.pg.q}.schedules WHERE NOT paused AND next_run_at IS NOT NULL`,
    );
    return rows[0]?.t ?? null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await this.pg.query<ScheduleRow>(`SELECT * FROM ${this.pg.q}.schedules ORDER BY id`);
    return rows.map(scheduleFromRow);
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    const changed = await this.pg.transaction(async (client) => {
      const { rowCount } =
        !paused && resumeAt !== undefined
          ? await client.query(
              `UPDATE ${this.pg.q}.schedules SET paused = false, note = $1, updated_at = $2, next_run_at = $3 WHERE id = $4`,
              [note, now, resumeAt, id],
            )
          : await client.query(
              `UPDATE ${this.pg.q}.schedules SET paused = $1, note = $2, updated_at = $3 WHERE id = $4`,
              [paused, note, now, id],
            );
      if (rowCount === 1) await this.pg.notify(client, [SCHEDULES_CHANNEL]);
      return rowCount === 1;
    });
    if (changed) this.pg.wakeLocal([SCHEDULES_CHANNEL]);
    return changed;
  }

  /** `whenActive` of `fireSchedule`, inside its transaction: replaces entries of `added` in place. */
  private async resolveActiveHolders(
    client: pg.PoolClient,
    request: FireScheduleRequest,
    added: AddedJob[],
  ): Promise<void> {
    for (const [i, job] of request.jobs.entries()) {
      const entry = added[i]!;
      if (!entry.duplicate) continue;
      const { rows } = await client.query<{ state: string }>(
        `SELECT state FROM ${this.pg.q}.jobs WHERE id = $1 FOR UPDATE`,
        [entry.id],
      );
      if (rows[0]?.state !== 'active') continue;
      if (request.whenActive === 'replace') {
        await cancelRow(client, this.pg.q, entry.id, request.firedAt);
        added[i] = { ...(await this.insertJobs(client, [job]))[0]!, replaced: entry.id };
      } else {
        const buffered = { ...job, dedupeKey: `${job.dedupeKey}${BUFFERED_KEY_SUFFIX}` };
        added[i] = (await this.insertJobs(client, [buffered]))[0]!;
      }
    }
  }
}
