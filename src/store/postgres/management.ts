import type pg from 'pg';
import { type Job, type JobState, LIVE_STATES } from '../../core/index.ts';
import type {
  FindJobsRequest,
  FoundJobs,
  JobFilter,
  JobSearch,
  MatchCount,
  SqlDialect,
} from '../job-search.ts';
import { type JobRow, rowToJob } from '../rows.ts';
import { countMatchingWithSql, findJobsWithSql, type SqlRead } from '../sql-search.ts';
import {
  CANCELS_CHANNEL,
  emptyCounts,
  type JobManagement,
  type ListJobsRequest,
  type QueueSettings,
  type TransitionRequest,
  type TransitionResult,
} from '../store.ts';
import type { PgContext, Queryable } from './context.ts';
import { CLEAR_COMPLETED, CLEAR_LEASE, COMPLETED_RECORD, isRowId, runRecord } from './sql.ts';

/** Jobs removed per statement when pruning: short transactions, so workers are not held up. */
const PRUNE_CHUNK = 5000;
const UNIQUE_VIOLATION = '23505';

/** ASCII letters folded by translate(), as the filter's text match is defined (lower() would fold more). */
const PG_DIALECT: SqlDialect = {
  param: (n) => `$${n}`,
  lower: (column) => `translate(${column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`,
  contains: (haystack, needle) => `strpos(${haystack}, ${needle}) > 0`,
};

/**
 * Jobs one at a time (read, retry, cancel, remove, prune), queue settings and searches: the
 * PostgreSQL engine's `JobManagement`, `QueueSettings` and `JobSearch` roles.
 */
export class PgJobManagement implements JobManagement, QueueSettings, JobSearch {
  private readonly pg: PgContext;

  constructor(context: PgContext) {
    this.pg = context;
  }

  async getJob(id: string): Promise<Job | null> {
    if (!isRowId(id)) return null;
    const { rows } = await this.pg.query<JobRow>(`SELECT * FROM ${this.pg.q}.jobs WHERE id = $1`, [id]);
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    const order = request.order === 'desc' ? 'DESC' : 'ASC';
    const { rows } = await this.pg.query<JobRow>(
      `SELECT * FROM ${this.pg.q}.jobs WHERE queue = $1 AND ($2::text IS NULL OR state = $2)
       ORDER BY id ${order} LIMIT $3 OFFSET $4`,
      [request.queue, request.state ?? null, request.limit ?? 50, request.offset ?? 0],
    );
    return rows.map(rowToJob);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    const counts = emptyCounts();
    const { rows } = await this.pg.query<{ state: JobState; n: number }>(
      `SELECT state, count(*)::int AS n FROM ${this.pg.q}.jobs WHERE queue = $1 GROUP BY state`,
      [queue],
    );
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const result = await this.transition(id, request, async (client, row) => {
      if (row.dedupe_key !== null && !(LIVE_STATES as readonly string[]).includes(row.state)) {
        const holder = await dedupeHolder(client, this.pg.q, row.queue, row.dedupe_key);
        if (holder) return { ok: false, reason: 'duplicate', holder };
      }
      // A job added with the key after that check, not committed yet, makes the update wait for it
      // and then fail on the unique index: then it is that job's key, as if the check had seen it.
      // (If that job has finished by the time we look, the key is free again: update again.)
      for (let attempt = 1; ; attempt++) {
        await client.query('SAVEPOINT retry_job');
        try {
          await client.query(
            `UPDATE ${this.pg.q}.jobs SET state = 'waiting', run_at = $1, failures = 0, stalls = 0,
               dead_letter = NULL, finished_at = NULL, ${CLEAR_LEASE}, ${CLEAR_COMPLETED},
               history = CASE WHEN completed_worker IS NULL THEN history ELSE history || ${COMPLETED_RECORD} END
             WHERE id = $2`,
            [request.now, id],
          );
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== UNIQUE_VIOLATION || attempt === 3) throw error;
          await client.query('ROLLBACK TO SAVEPOINT retry_job');
          const holder = await dedupeHolder(client, this.pg.q, row.queue, row.dedupe_key!);
          if (holder) return { ok: false, reason: 'duplicate', holder };
        }
      }
      await this.pg.notify(client, [row.queue]);
      return null;
    });
    if (result.ok) this.pg.wakeLocal([result.job.queue]);
    return result;
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const result = await this.transition(id, request, async (client, row) => {
      await cancelRow(client, this.pg.q, id, request.now);
      if (row.state === 'active') await this.pg.notify(client, [CANCELS_CHANNEL]);
      return null;
    });
    if (result.ok) this.pg.wakeLocal([CANCELS_CHANNEL]);
    return result;
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    return this.transition(
      id,
      request,
      async (client) => {
        await client.query(`DELETE FROM ${this.pg.q}.jobs WHERE id = $1`, [id]);
        return null;
      },
      { returnsRemoved: true },
    );
  }

  async pruneJobs(request: {
    queue: string;
    states: readonly JobState[];
    finishedBefore: number;
  }): Promise<number> {
    if (request.states.length === 0) return 0;
    // In id order, each chunk starting after the last: the rows an earlier chunk deleted stay in the
    // table as dead rows until vacuum, and starting over each time would step over them again.
    let total = 0;
    let after = 0;
    for (;;) {
      const { rows } = await this.pg.query<{ n: number; last: number | null }>(
        `WITH gone AS (
           DELETE FROM ${this.pg.q}.jobs WHERE id IN (
             SELECT id FROM ${this.pg.q}.jobs
             WHERE id > $5 AND queue = $1 AND state = ANY($2::text[]) AND finished_at < $3
             ORDER BY id LIMIT $4)
           RETURNING id)
         SELECT count(*)::int AS n, max(id) AS last FROM gone`,
        [request.queue, request.states, request.finishedBefore, PRUNE_CHUNK, after],
      );
      const { n, last } = rows[0]!;
      total += n;
      if (n < PRUNE_CHUNK || last === null) return total;
      after = last;
    }
  }

  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    await this.pg.transaction(async (client) => {
      await client.query(
        `INSERT INTO ${this.pg.q}.queues (name, paused) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
        [queue, paused],
      );
      if (!paused) await this.pg.notify(client, [queue]);
    });
    if (!paused) this.pg.wakeLocal([queue]);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    const { rows } = await this.pg.query<{ paused: boolean }>(
      `SELECT paused FROM ${this.pg.q}.queues WHERE name = $1`,
      [queue],
    );
    return rows[0]?.paused === true;
  }

  async listQueues(): Promise<string[]> {
    const { rows } = await this.pg.query<{ name: string }>(
      `SELECT name FROM ${this.pg.q}.queues UNION SELECT DISTINCT queue FROM ${this.pg.q}.jobs ORDER BY 1`,
    );
    return rows.map((row) => row.name);
  }

  findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    return findJobsWithSql(this.search, `${this.pg.q}.jobs`, PG_DIALECT, request);
  }

  countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    return countMatchingWithSql(this.search, `${this.pg.q}.jobs`, PG_DIALECT, filter, cap);
  }

  async forgetQueue(queue: string): Promise<boolean> {
    const { rows } = await this.pg.query<{ has_jobs: boolean }>(
      `WITH found AS (SELECT EXISTS (SELECT 1 FROM ${this.pg.q}.jobs WHERE queue = $1) AS has_jobs),
         gone AS (DELETE FROM ${this.pg.q}.queues WHERE name = $1 AND NOT (SELECT has_jobs FROM found))
       SELECT has_jobs FROM found`,
      [queue],
    );
    return rows[0]?.has_jobs === false;
  }

  private readonly search: SqlRead = async <Row>(sql: string, params: unknown[]) =>
    (await this.pg.query(sql, params)).rows as Row[];

  /**
   * Reads the job (locking its row), checks its state against `from`, applies `change` and reads it
   * back, all in one transaction. `change` may refuse by returning a failed result.
   */
  private transition(
    id: string,
    { queue, from }: TransitionRequest,
    change: (client: pg.PoolClient, row: JobRow) => Promise<TransitionResult | null>,
    { returnsRemoved = false } = {},
  ): Promise<TransitionResult> {
    return this.pg.transaction(async (client): Promise<TransitionResult> => {
      if (!isRowId(id)) return { ok: false, reason: 'not_found' };
      const { rows } = await client.query<JobRow>(
        `SELECT * FROM ${this.pg.q}.jobs WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const row = rows[0];
      if (!row || row.queue !== queue) return { ok: false, reason: 'not_found' };
      const state = row.state as JobState;
      if (!from.includes(state)) return { ok: false, reason: 'state', state };
      const refused = await change(client, row);
      if (refused) return refused;
      if (returnsRemoved) return { ok: true, job: rowToJob(row) };
      const after = await client.query<JobRow>(`SELECT * FROM ${this.pg.q}.jobs WHERE id = $1`, [id]);
      return { ok: true, job: rowToJob(after.rows[0]!) };
    });
  }
}

export async function dedupeHolder(
  client: Queryable,
  q: string,
  queue: string,
  key: string,
): Promise<string | null> {
  const { rows } = await client.query<{ id: number }>(
    `SELECT id FROM ${q}.jobs WHERE queue = $1 AND dedupe_key = $2
       AND state IN ('waiting', 'delayed', 'failed', 'active') LIMIT 1`,
    [queue, key],
  );
  return rows[0] ? String(rows[0].id) : null;
}

/**
 * A running job's run ends here too: its history says so (its worker's outcome will not apply).
 * (A completed job, which only a caller of the store itself could cancel, keeps its record.)
 */
export async function cancelRow(client: Queryable, q: string, id: string, now: number): Promise<void> {
  await client.query(
    `UPDATE ${q}.jobs SET state = 'cancelled', finished_at = $1, ${CLEAR_LEASE}, ${CLEAR_COMPLETED},
       history = CASE WHEN state = 'active' THEN history || ${runRecord('cancelled', '$1::bigint')}
         WHEN completed_worker IS NOT NULL THEN history || ${COMPLETED_RECORD}
         ELSE history END
     WHERE id = $2`,
    [now, id],
  );
}
