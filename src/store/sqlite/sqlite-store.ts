import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { type Job, type JobState, LIVE_STATES, StoreClosedError } from '../../core/index.ts';
import { sqliteDriver } from '../drivers.ts';
import { backoffJson, claimOrder } from '../encoding.ts';
import type { FindJobsRequest, FoundJobs, JobFilter, MatchCount, SqlDialect } from '../job-search.ts';
import { Listeners } from '../listeners.ts';
import {
  type JobRow,
  type LockRow,
  lockFromRow,
  rowToJob,
  type ScheduleRow,
  scheduleFromRow,
} from '../rows.ts';
import { countMatchingWithSql, findJobsWithSql, type SqlRead } from '../sql-search.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  CANCELS_CHANNEL,
  type ClaimRequest,
  emptyCounts,
  type FinishAndClaimResult,
  type FireScheduleRequest,
  type HeldLease,
  isChannel,
  type JobOutcome,
  type ListJobsRequest,
  type LockOwner,
  type LockRecord,
  type NewJob,
  type OwnedJobs,
  type RecoverStalledRequest,
  SCHEDULES_CHANNEL,
  type ScheduleRecord,
  type ScheduleSync,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
  type TransitionRequest,
  type TransitionResult,
} from '../store.ts';
import { retryWhileBusy } from './busy.ts';
import { Checkpointer, RESTART_BYTES } from './checkpointer.ts';
import { migrate } from './migrations.ts';
import { checkSqliteStoreOptions } from './options.ts';
import { prepareStatements, type Statements } from './statements.ts';
import { WakeSignal } from './wake-signal.ts';

/** SQLite's lower() folds ASCII letters only, as the filter's text match is defined. */
const SQLITE_DIALECT: SqlDialect = {
  param: (n) => `?${n}`,
  lower: (column) => `lower(${column})`,
  contains: (haystack, needle) => `instr(${haystack}, ${needle}) > 0`,
};

export { checkSqliteStoreOptions } from './options.ts';

export interface SqliteStoreOptions {
  /** The database file. Default `.sundial/sundial.db`; `:memory:` for a private, throwaway store. */
  path?: string;
  /**
   * `normal` (default): in WAL mode a commit survives a crash of the process, and only the last
   * commits before a power loss or OS crash can be lost. `full`: fsync on every commit.
   */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another process's transaction before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL from a background thread every this many ms, instead of inside commits.
   * Default 250; 0 leaves checkpoints to SQLite (inside commits). Not used for `:memory:`.
   */
  checkpointIntervalMs?: number;
  /**
   * Wake workers in other processes through the `<db>-wake` file when jobs become claimable, and be
   * woken by theirs. Default true for files; without it other processes find new jobs by polling.
   */
  wakeSignal?: boolean;
  /** Called with errors that cannot be thrown to a caller (a failed file watch). */
  onError?: (error: unknown) => void;
  /**
   * Add Sundial's tables to a database that already holds other tables. Default false: such a
   * database is refused (`SUNDIAL_FOREIGN_DATABASE`), so a mistyped path cannot change another
   * application's file.
   */
  allowOtherTables?: boolean;
}

export const DEFAULT_SQLITE_PATH = '.sundial/sundial.db';

/** Rows deleted per transaction when pruning, so other processes are not locked out for long. */
const PRUNE_CHUNK = 5000;

/**
 * The embedded engine: one SQLite file that any number of processes on one machine may share.
 * `node:sqlite` is synchronous, so every method does its whole transaction in one go and the
 * promise it returns is already settled; each write transaction is `BEGIN IMMEDIATE`, so two
 * processes never interleave inside one state change.
 */
export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  readonly pipelineDepth = 1;
  readonly addBatchParts = 1;
  readonly path: string;
  private db: DatabaseSync | null = null;
  private closed = false;
  private statements: Statements | null = null;
  private readonly listeners: Listeners;
  private readonly wakeSignal: WakeSignal | null;
  /** One file per channel (`<db>-wake-schedules`, `<db>-wake-cancels`). */
  private readonly channelSignals = new Map<string, WakeSignal>();
  private readonly checkpointer: Checkpointer | null;
  private readonly busyTimeoutMs: number;
  private readonly options: SqliteStoreOptions;
  private readonly pruneStatements = new Map<number, StatementSync>();
  private readonly searchStatements = new Map<string, StatementSync>();

  constructor(options: SqliteStoreOptions = {}) {
    checkSqliteStoreOptions(options);
    sqliteDriver(); // on a Node.js without node:sqlite, refuse now with a message that says so
    this.options = options;
    this.path = options.path === ':memory:' ? ':memory:' : resolve(options.path ?? DEFAULT_SQLITE_PATH);
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const checkpointIntervalMs = options.checkpointIntervalMs ?? 250;
    this.checkpointer =
      this.path !== ':memory:' && checkpointIntervalMs > 0
        ? new Checkpointer(this.path, checkpointIntervalMs)
        : null;
    const wakeSignal = options.wakeSignal ?? this.path !== ':memory:';
    const onError = (error: unknown) => this.options.onError?.(error);
    this.listeners = new Listeners(onError);
    // A file per channel: job commits are frequent and must not make every scheduler re-read its
    // schedules, nor every worker renew its leases.
    this.wakeSignal = wakeSignal
      ? new WakeSignal(`${this.path}-wake`, () => this.wakeLocal('all'), onError)
      : null;
    if (wakeSignal) {
      for (const [channel, suffix] of [
        [SCHEDULES_CHANNEL, 'schedules'],
        [CANCELS_CHANNEL, 'cancels'],
      ] as const) {
        const signal = new WakeSignal(
          `${this.path}-wake-${suffix}`,
          () => this.wakeLocal([channel]),
          onError,
        );
        this.channelSignals.set(channel, signal);
      }
    }
  }

  async init(): Promise<void> {
    this.open();
  }

  /** Opens the file and migrates it. Synchronous, so a store can be used right after construction. */
  open(): void {
    if (this.closed) throw new StoreClosedError();
    if (this.db) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    // SQLite's own busy wait is used only while migrating, synchronously, at start-up; afterwards
    // writes wait for each other in `retryWhileBusy`, which does not freeze the event loop.
    const db = new (sqliteDriver().DatabaseSync)(this.path);
    db.exec(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // After a burst, a WAL that grew is cut back to this size when it next starts afresh.
    db.exec(`PRAGMA journal_size_limit = ${RESTART_BYTES}`);
    db.exec('PRAGMA foreign_keys = ON');
    try {
      migrate(db, { allowOtherTables: this.options.allowOtherTables ?? false, path: this.path });
    } catch (error) {
      db.close();
      throw error;
    }
    db.exec('PRAGMA busy_timeout = 0');
    this.db = db;
    this.statements = prepareStatements(db);
    this.wakeSignal?.start();
    for (const signal of this.channelSignals.values()) signal.start();
    if (this.checkpointer) {
      db.exec('PRAGMA wal_autocheckpoint = 0');
      this.checkpointer.start((error) => {
        // Without the thread the WAL would grow without bound: hand checkpoints back to SQLite.
        this.db?.exec('PRAGMA wal_autocheckpoint = 1000');
        this.options.onError?.(error);
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeSignal?.stop();
    for (const signal of this.channelSignals.values()) signal.stop();
    await this.checkpointer?.stop();
    this.listeners.clear();
    this.statements = null;
    this.pruneStatements.clear();
    this.searchStatements.clear();
    this.db?.close();
    this.db = null;
  }

  async addJobs(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    const s = this.prepared();
    const added = await this.transaction(() => this.insertJobs(s, jobs));
    this.announce(new Set(jobs.map((job) => job.queue)));
    return added;
  }

  async claimJobs(request: ClaimRequest): Promise<Job[]> {
    const s = this.prepared();
    if (!this.mayClaim(s, request)) return [];
    return this.claimed(await this.transaction(() => this.claimRows(s, request)));
  }

  async finishJobs(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    const s = this.prepared();
    const applied = await this.transaction(() => this.applyOutcomes(s, outcomes));
    this.announceRetries(outcomes);
    return applied;
  }

  async finishAndClaim(
    outcomes: readonly JobOutcome[],
    claim: ClaimRequest | null,
  ): Promise<FinishAndClaimResult> {
    const s = this.prepared();
    const nextDue = (queue: string) => (s.nextRunAt.get(queue) as { t: number | null }).t;
    if (outcomes.length === 0) {
      if (!claim) return { applied: [], jobs: [] };
      if (!this.mayClaim(s, claim))
        return { applied: [], jobs: [], nextRunAt: await this.read(() => nextDue(claim.queue)) };
    }
    // The next due time is read in the same transaction, after the outcomes (a retry counts).
    const { applied, rows, nextRunAt } = await this.transaction(() => ({
      applied: this.applyOutcomes(s, outcomes),
      rows: claim ? this.claimRows(s, claim) : [],
      nextRunAt: claim ? nextDue(claim.queue) : undefined,
    }));
    this.announceRetries(outcomes);
    return { applied, jobs: this.claimed(rows), ...(nextRunAt === undefined ? {} : { nextRunAt }) };
  }

  async renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]> {
    const s = this.prepared();
    return this.transaction(() =>
      leases
        .filter((lease) => s.renewLease.run(leaseExpiresAt, lease.id, owner, lease.attempt).changes === 1)
        .map((lease) => lease.id),
    );
  }

  async releaseJobs(owner: string, ids: readonly string[], now: number): Promise<number> {
    const s = this.prepared();
    const released = await this.transaction(() => {
      let count = 0;
      for (const id of ids) count += Number(s.release.run(now, id, owner).changes);
      return count;
    });
    if (released > 0) this.announce('all');
    return released;
  }

  async releaseOrphans(request: OwnedJobs): Promise<HeldLease[]> {
    const s = this.prepared();
    const held = JSON.stringify(request.held.filter(isRowId).map(Number));
    const rows = await this.transaction(
      () =>
        s.releaseOrphans.all(request.now, request.queue, request.owner, held) as {
          id: number;
          attempt: number;
        }[],
    );
    if (rows.length > 0) this.announce(new Set([request.queue]));
    return rows.map((row) => ({ id: String(row.id), attempt: row.attempt }));
  }

  async recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]> {
    const s = this.prepared();
    const queue = request.queue ?? null;
    const except = request.exceptOwner ?? null;
    const held = request.exceptHeld ? JSON.stringify(request.exceptHeld.map(Number)) : null;
    const { recovered, buried } = await this.transaction(() => ({
      recovered: s.recoverStalled.all(request.now, queue, except, held) as {
        id: number;
        queue: string;
        name: string;
      }[],
      buried: s.buryStalled.all(STALLED_ERROR_JSON, request.now, queue, except, held) as {
        id: number;
        queue: string;
        name: string;
      }[],
    }));
    const stalled: StalledJob[] = [
      ...recovered.map((row) => ({ id: String(row.id), queue: row.queue, name: row.name, recovered: true })),
      ...buried.map((row) => ({ id: String(row.id), queue: row.queue, name: row.name, recovered: false })),
    ];
    if (recovered.length > 0) this.announce('all');
    return stalled;
  }

  async nextRunAt(queue: string): Promise<number | null> {
    const row = await this.read(() => this.prepared().nextRunAt.get(queue) as { t: number | null });
    return row.t;
  }

  async getJob(id: string): Promise<Job | null> {
    if (!isRowId(id)) return null;
    const row = await this.read(() => this.prepared().getJob.get(id) as unknown as JobRow | undefined);
    return row ? rowToJob(row) : null;
  }

  async latestRuns(): Promise<Map<string, Job>> {
    const rows = await this.read(() => this.prepared().latestRuns.all());
    return new Map(
      (rows as unknown as (JobRow & { schedule: string })[]).map((row) => [row.schedule, rowToJob(row)]),
    );
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    const s = this.prepared();
    const limit = request.limit ?? 50;
    const offset = request.offset ?? 0;
    const desc = request.order === 'desc';
    const rows = await this.read(() =>
      request.state
        ? (desc ? s.listByStateDesc : s.listByState).all(request.queue, request.state, limit, offset)
        : (desc ? s.listAllDesc : s.listAll).all(request.queue, limit, offset),
    );
    return (rows as unknown as JobRow[]).map(rowToJob);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    const counts = emptyCounts();
    const rows = await this.read(
      () => this.prepared().countByState.all(queue) as { state: JobState; n: number }[],
    );
    for (const row of rows) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const s = this.prepared();
    const result = await this.transition(id, request, (row) => {
      if (row.dedupe_key !== null && !(LIVE_STATES as readonly string[]).includes(row.state)) {
        const holder = s.dedupeHolder.get(row.queue, row.dedupe_key) as { id: number } | undefined;
        if (holder) return { ok: false, reason: 'duplicate', holder: String(holder.id) };
      }
      s.retryNow.run(request.now, id);
      return null;
    });
    if (result.ok) this.announce([result.job.queue]);
    return result;
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const s = this.prepared();
    let wasActive = false;
    const result = await this.transition(id, request, (row) => {
      wasActive = row.state === 'active';
      s.cancel.run(request.now, id);
      return null;
    });
    if (result.ok && wasActive) this.announce([CANCELS_CHANNEL]);
    return result;
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    const s = this.prepared();
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
    this.prepared();
    const statement = this.pruneStatement(request.states.length);
    let total = 0;
    for (;;) {
      const { changes } = await this.transaction(() =>
        statement.run(request.queue, ...request.states, request.finishedBefore, PRUNE_CHUNK),
      );
      total += Number(changes);
      if (Number(changes) < PRUNE_CHUNK) return total;
    }
  }

  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    const s = this.prepared();
    await this.transaction(() => s.setPaused.run(queue, paused ? 1 : 0));
    if (!paused) this.announce([queue]);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    const row = await this.read(() => this.prepared().isPaused.get(queue) as { paused: number } | undefined);
    return row?.paused === 1;
  }

  async listQueues(): Promise<string[]> {
    const rows = await this.read(() => this.prepared().listQueues.all() as { name: string }[]);
    return rows.map((row) => row.name);
  }

  findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    return findJobsWithSql(this.search, 'sundial_jobs', SQLITE_DIALECT, request);
  }

  countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    return countMatchingWithSql(this.search, 'sundial_jobs', SQLITE_DIALECT, filter, cap);
  }

  async forgetQueue(queue: string): Promise<boolean> {
    const s = this.prepared();
    return this.transaction(() => {
      if (s.anyJobOf.get(queue)) return false;
      s.forgetQueue.run(queue);
      return true;
    });
  }

  /** Searches prepare their statement per filter shape, kept (a few shapes at most in practice). */
  private readonly search: SqlRead = <Row>(sql: string, params: unknown[]) =>
    this.read(() => {
      this.prepared();
      let statement = this.searchStatements.get(sql);
      if (!statement) {
        if (this.searchStatements.size >= 64) this.searchStatements.clear();
        statement = this.db!.prepare(sql);
        this.searchStatements.set(sql, statement);
      }
      return statement.all(...(params as (string | number)[])) as Row[];
    });

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    const s = this.prepared();
    const changed = await this.transaction(() => {
      let count = 0;
      for (const entry of entries)
        count += Number(s.syncSchedule.run(entry.id, entry.specHash, entry.nextRunAt, now).changes);
      return count;
    });
    if (changed > 0) this.announce([SCHEDULES_CHANNEL]);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    const s = this.prepared();
    const result = await this.transaction(() => {
      const { changes } = s.fireSchedule.run(
        request.nextRunAt,
        request.firedAt,
        request.firedAt,
        request.id,
        request.expectedNextRunAt,
      );
      if (changes !== 1) return { fired: false, added: [] as AddedJob[] };
      const added = this.insertJobs(s, request.jobs);
      if (request.whenActive) this.resolveActiveHolders(s, request, added);
      return { fired: true, added };
    });
    if (result.added.length > 0) this.announce(new Set(request.jobs.map((job) => job.queue)));
    if (result.added.some((added) => added.replaced !== undefined)) this.announce([CANCELS_CHANNEL]);
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
        added[i] = { ...this.insertJobs(s, [job])[0]!, replaced: entry.id };
      } else {
        added[i] = this.insertJobs(s, [{ ...job, dedupeKey: `${job.dedupeKey}${BUFFERED_KEY_SUFFIX}` }])[0]!;
      }
    });
  }

  async nextScheduleRunAt(): Promise<number | null> {
    const row = await this.read(() => this.prepared().nextScheduleRunAt.get() as { t: number | null });
    return row.t;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const rows = await this.read(() => this.prepared().listSchedules.all() as unknown as ScheduleRow[]);
    return rows.map(scheduleFromRow);
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    const s = this.prepared();
    const { changes } = await this.transaction(() =>
      !paused && resumeAt !== undefined
        ? s.resumeScheduleAt.run(note, now, resumeAt, id)
        : s.pauseSchedule.run(paused ? 1 : 0, note, now, id),
    );
    if (changes === 1) this.announce([SCHEDULES_CHANNEL]);
    return changes === 1;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    const s = this.prepared();
    const row = await this.transaction(
      () =>
        s.acquireLock.get(
          request.name,
          JSON.stringify(request.owner),
          request.now,
          request.ttlMs,
        ) as unknown as LockRow | undefined,
    );
    return row ? lockFromRow(row) : null;
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    const s = this.prepared();
    return (await this.transaction(() => s.renewLock.run(now, name, token))).changes === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    const s = this.prepared();
    return (await this.transaction(() => s.releaseLock.run(name, token ?? null))).changes === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    const rows = await this.read(() => this.prepared().listLocks.all() as unknown as LockRow[]);
    return rows.map(lockFromRow);
  }

  async getFlag(name: string): Promise<string | null> {
    const row = await this.read(() => this.prepared().getFlag.get(name) as { value: string } | undefined);
    return row?.value ?? null;
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    const s = this.prepared();
    await this.transaction(() => (value === null ? s.clearFlag.run(name) : s.setFlag.run(name, value)));
    this.announce([SCHEDULES_CHANNEL]);
  }

  subscribe(queue: string, listener: () => void): () => void {
    return this.listeners.add(queue, listener);
  }

  /**
   * Jobs may be claimable now in `queues`: wake this process's workers directly and other
   * processes' through the wake file. Called after the commit, never inside a transaction.
   */
  private announce(queues: Iterable<string> | 'all'): void {
    this.wakeLocal(queues);
    if (queues === 'all') {
      this.wakeSignal?.ring();
      return;
    }
    let queueWoken = false;
    for (const name of queues) {
      if (isChannel(name)) this.channelSignals.get(name)?.ring();
      else queueWoken = true;
    }
    if (queueWoken) this.wakeSignal?.ring();
  }

  /** A retry falls due later; workers elsewhere re-arm their timers to it. */
  private announceRetries(outcomes: readonly JobOutcome[]): void {
    if (outcomes.some((outcome) => outcome.kind === 'retry')) this.announce('all');
  }

  /** Calls local listeners; 'all' means every queue's, not the channels'. */
  private wakeLocal(queues: Iterable<string> | 'all'): void {
    this.listeners.wake(queues === 'all' ? 'queues' : queues);
  }

  private prepared(): Statements {
    // Opening on first use lets a store be handed around before anyone awaits `init()`.
    if (!this.statements) this.open();
    return this.statements!;
  }

  /** Inserts jobs in order, each deduped against live jobs; inside a transaction. */
  private insertJobs(s: Statements, jobs: readonly NewJob[]): AddedJob[] {
    const out: AddedJob[] = new Array(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const { changes, lastInsertRowid } = s.insertJob.run(
        job.queue,
        job.name,
        job.payload,
        job.state,
        job.priority,
        job.runAt,
        job.maxAttempts,
        backoffJson(job.backoff),
        job.timeout,
        job.dedupeKey,
        job.maxStalls,
        job.origin,
        job.createdAt,
      );
      if (changes === 1) {
        out[i] = { id: String(lastInsertRowid), duplicate: false };
      } else {
        const holder = s.dedupeHolder.get(job.queue, job.dedupeKey) as { id: number } | undefined;
        // ON CONFLICT only fires for the dedupe index, so a holder exists inside this transaction.
        out[i] = { id: String(holder!.id), duplicate: true };
      }
    }
    return out;
  }

  /**
   * A read, without the write lock, of whether a claim could find anything. Most wake-ups of an
   * idle worker find nothing; this keeps them from queueing for the lock behind real writers. A job
   * committed just after this read is announced after its commit, so that wake-up is not lost.
   */
  private mayClaim(s: Statements, request: ClaimRequest): boolean {
    try {
      return (s.mayClaim.get(request.queue, request.queue, request.now) as { yes: number }).yes === 1;
    } catch {
      return true; // when in doubt, let the claim itself find out
    }
  }

  /** Makes due delayed and failed jobs waiting, then claims; inside a transaction. */
  private claimRows(s: Statements, request: ClaimRequest): JobRow[] {
    s.promoteDue.run(request.queue, request.now);
    return s.claim.all(
      request.owner,
      request.leaseExpiresAt,
      request.now,
      request.queue,
      request.limit,
      request.queue,
    ) as unknown as JobRow[];
  }

  private claimed(rows: JobRow[]): Job[] {
    if (rows.length === 0) return [];
    const jobs = rows.map(rowToJob);
    // RETURNING gives rows in no promised order; hand them out in claim order.
    jobs.sort(claimOrder);
    return jobs;
  }

  /** Applies outcomes held under the right owner and attempt; inside a transaction. */
  private applyOutcomes(s: Statements, outcomes: readonly JobOutcome[]): boolean[] {
    return outcomes.map((outcome) => {
      // Every statement ends with the attempt record, then the guard: id, owner, attempt.
      const tail = [JSON.stringify(outcome.record), outcome.id, outcome.owner, outcome.attempt] as const;
      let changes: number | bigint;
      switch (outcome.kind) {
        case 'completed':
          ({ changes } = s.complete.run(outcome.result, outcome.finishedAt, ...tail));
          break;
        case 'retry':
          ({ changes } = s.retryLater.run(outcome.runAt, JSON.stringify(outcome.error), ...tail));
          break;
        case 'dead': {
          const error = JSON.stringify(outcome.error);
          ({ changes } = s.bury.run(error, JSON.stringify(outcome.deadLetter), outcome.finishedAt, ...tail));
          break;
        }
      }
      return changes === 1;
    });
  }

  /** Runs a read. WAL readers almost never wait, but can while another connection recovers the WAL. */
  private read<T>(work: () => T): Promise<T> {
    return retryWhileBusy(work, this.busyTimeoutMs);
  }

  /**
   * Runs `work` in a write transaction, waiting (without blocking) for other writers first.
   * BEGIN, the work and COMMIT run in one synchronous stretch, so two calls on this connection can
   * never interleave inside a transaction.
   */
  private transaction<T>(work: () => T): Promise<T> {
    this.prepared(); // opens the file on first use
    return retryWhileBusy(() => {
      const db = this.db!;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        rollback(db);
        throw error;
      }
    }, this.busyTimeoutMs);
  }

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
    const s = this.prepared();
    return this.transaction((): TransitionResult => {
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
      statement = this.db!.prepare(
        `DELETE FROM sundial_jobs WHERE id IN (
           SELECT id FROM sundial_jobs
           WHERE queue = ? AND state IN (${placeholders}) AND finished_at < ?
           LIMIT ?)`,
      );
      this.pruneStatements.set(stateCount, statement);
    }
    return statement;
  }
}

/** Ids of this engine are row ids; `'1.0'` or `' 1'` must not find job 1 through SQLite's casts. */
function isRowId(id: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(id);
}

/** Rolls back if a transaction is open; SQLite already did when the error ended it. */
export function rollback(db: DatabaseSync): void {
  try {
    db.exec('ROLLBACK');
  } catch {
    // "no transaction is active": nothing to undo.
  }
}
