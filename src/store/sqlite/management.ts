import type { StatementSync } from 'node:sqlite';
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
import type { SqliteContext } from './context.ts';

/** Rows deleted per transaction when pruning, so other processes are not locked out for long. */
const PRUNE_CHUNK = 5000;

/** SQLite's lower() folds ASCII letters only, as the filter's text match is defined. */
const SQLITE_DIALECT: SqlDialect = {
  param: (n) => `?${n}`,
  lower: (column) => `lower(${column})`,
  contains: (haystack, needle) => `instr(${haystack}, ${needle}) > 0`,
};

/** Jobs one at a time, queue settings and searches: the SQLite engine's `JobManagement`, `QueueSettings` and `JobSearch` roles. */
export class SqliteJobManagement implements JobManagement, QueueSettings, JobSearch {
  private readonly sqlite: SqliteContext;
  /** Statements built per call, kept by shape (a few shapes at most in practice). */
  private readonly pruneStatements = new Map<number, StatementSync>();
  private readonly searchStatements = new Map<string, StatementSync>();

  constructor(context: SqliteContext) {
    this.sqlite = context;
  }

  async getJob(id: string): Promise<Job | null> {
    if (!isRowId(id)) return null;
    const row = await this.sqlite.read(
      () => this.sqlite.prepared().getJob.get(id) as unknown as JobRow | undefined,
    );
    return row ? rowToJob(row) : null;
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    const s = this.sqlite.prepared();
    const limit = request.limit ?? 50;
    const offset = request.offset ?? 0;
    const desc = request.order === 'desc';
    const rows = await this.sqlite.read(() =>
      request.state
        ? (desc ? s.listByStateDesc : s.listByState).all(request.queue, request.state, limit, offset)
        : (desc ? s.listAllDesc : s.listAll).all(request.queue, limit, offset),
    );
    return (rows as unknown as JobRow[]).map(rowToJob);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    const counts = emptyCounts();
    const rows = await this.sqlite.read(
      () => this.sqlite.prepared().countByState.all(queue) as { state: JobState; n: number }[],
    );
    for (const row of rows) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const s = this.sqlite.prepared();
    const result = await this.transition(id, request, (row) => {
      if (row.dedupe_key !== null && !(LIVE_STATES as readonly string[]).includes(row.state)) {
        const holder = s.dedupeHolder.get(row.queue, row.dedupe_key) as { id: number } | undefined;
        if (holder) return { ok: false, reason: 'duplicate', holder: String(holder.id) };
      }
      s.retryNow.run(request.now, id);
      return null;
    });
    if (result.ok) this.sqlite.announce([result.job.queue]);
    return result;
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const s = this.sqlite.prepared();
    let wasActive = false;
    const result = await this.transition(id, request, (row) => {
      wasActive = row.state === 'active';
      s.cancel.run(request.now, id);
      return null;
    });
    if (result.ok && wasActive) this.sqlite.announce([CANCELS_CHANNEL]);
    return result;
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    const s = this.sqlite.prepared();
    return this.transition(
      id,
      request,
      () => {
        s.remove.run(id);
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
    this.sqlite.prepared();
    const statement = this.pruneStatement(request.states.length);
    let total = 0;
    for (;;) {
      const { changes } = await this.sqlite.transaction(() =>
        statement.run(request.queue, ...request.states, request.finishedBefore, PRUNE_CHUNK),
      );
      total += Number(changes);
      if (Number(changes) < PRUNE_CHUNK) return total;
    }
  }

  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    const s = this.sqlite.prepared();
    await this.sqlite.transaction(() => s.setPaused.run(queue, paused ? 1 : 0));
    if (!paused) this.sqlite.announce([queue]);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    const row = await this.sqlite.read(
      () => this.sqlite.prepared().isPaused.get(queue) as { paused: number } | undefined,
    );
    return row?.paused === 1;
  }

  async listQueues(): Promise<string[]> {
    const rows = await this.sqlite.read(() => this.sqlite.prepared().listQueues.all() as { name: string }[]);
    return rows.map((row) => row.name);
  }

  findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    return findJobsWithSql(this.search, 'sundial_jobs', SQLITE_DIALECT, request);
  }

  countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    return countMatchingWithSql(this.search, 'sundial_jobs', SQLITE_DIALECT, filter, cap);
  }

  async forgetQueue(queue: string): Promise<boolean> {
    const s = this.sqlite.prepared();
    return this.sqlite.transaction(() => {
      if (s.anyJobOf.get(queue)) return false;
      s.forgetQueue.run(queue);
      return true;
    });
  }

  /** Searches prepare their statement per filter shape, kept (a few shapes at most in practice). */
  private readonly search: SqlRead = <Row>(sql: string, params: unknown[]) =>
    this.sqlite.read(() => {
      this.sqlite.prepared();
      let statement = this.searchStatements.get(sql);
      if (!statement) {
        if (this.searchStatements.size >= 64) this.searchStatements.clear();
        statement = this.sqlite.database().prepare(sql);
        this.searchStatements.set(sql, statement);
      }
      return statement.all(...(params as (string | number)[])) as Row[];
    });

  /**
   * Reads the job, checks its state against `from`, applies `change` and reads it back, all in one
   * transaction. `change` may refuse by returning a failed result.
   */
  private async transition(
    id: string,
    { queue, from }: TransitionRequest,
    change: (row: JobRow) => TransitionResult | null,
    { returnsRemoved = false } = {},
  ): Promise<TransitionResult> {
    const s = this.sqlite.prepared();
    return this.sqlite.transaction((): TransitionResult => {
      const row = isRowId(id) ? (s.getJob.get(id) as unknown as JobRow | undefined) : undefined;
      if (!row || row.queue !== queue) return { ok: false, reason: 'not_found' };
      const state = row.state as JobState;
      if (!from.includes(state)) return { ok: false, reason: 'state', state };
      const refused = change(row);
      if (refused) return refused;
      if (returnsRemoved) return { ok: true, job: rowToJob(row) };
      return { ok: true, job: rowToJob(s.getJob.get(id) as unknown as JobRow) };
    });
  }

  private pruneStatement(stateCount: number): StatementSync {
    let statement = this.pruneStatements.get(stateCount);
    if (!statement) {
      const placeholders = new Array(stateCount).fill('?').join(', ');
      statement = this.sqlite.database().prepare(
        `DELETE FROM sundial_jobs WHERE id IN (
           SELECT id FROM sundial_jobs
           WHERE queue = ? AND state IN (${placeholders}) AND finished_at < ?
           LIMIT ?)`,
      );
      this.pruneStatements.set(stateCount, statement);
    }
    return statement;
  }

  /** Forgets the statements built per call (the connection they belong to is closing). */
  clearStatements(): void {
    this.pruneStatements.clear();
    this.searchStatements.clear();
  }
}

/** Ids of this engine are row ids; `'1.0'` or `' 1'` must not find job 1 through SQLite's casts. */
export function isRowId(id: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(id);
}
