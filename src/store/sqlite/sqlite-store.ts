import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { type Job, StoreClosedError } from '../../core/index.ts';
import { sqliteDriver } from '../drivers.ts';
import { backoffJson, claimOrder } from '../encoding.ts';
import { Listeners } from '../listeners.ts';
import { RoleDelegatingStore } from '../role-delegation.ts';
import { type JobRow, rowToJob } from '../rows.ts';
import {
  type AddedJob,
  CANCELS_CHANNEL,
  type ClaimRequest,
  type FinishAndClaimResult,
  type HeldLease,
  isChannel,
  type JobOutcome,
  type NewJob,
  type OwnedJobs,
  type RecoverStalledRequest,
  SCHEDULES_CHANNEL,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
} from '../store.ts';
import { retryWhileBusy } from './busy.ts';
import { Checkpointer, RESTART_BYTES } from './checkpointer.ts';
import type { SqliteContext } from './context.ts';
import { SqliteLocks } from './locks.ts';
import { isRowId, SqliteJobManagement } from './management.ts';
import { migrate } from './migrations.ts';
import { checkSqliteStoreOptions } from './options.ts';
import { SqliteSchedules } from './schedules.ts';
import { prepareStatements, type Statements } from './statements.ts';
import { WakeSignal } from './wake-signal.ts';

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

/**
 * The embedded engine: one SQLite file that any number of processes on one machine may share.
 * `node:sqlite` is synchronous, so every method does its whole transaction in one go and the
 * promise it returns is already settled; each write transaction is `BEGIN IMMEDIATE`, so two
 * processes never interleave inside one state change.
 */
export class SqliteStore extends RoleDelegatingStore implements Store {
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
  private readonly management: SqliteJobManagement;

  constructor(options: SqliteStoreOptions = {}) {
    super();
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
    const context: SqliteContext = {
      prepared: () => this.prepared(),
      database: () => this.db!,
      read: (work) => this.read(work),
      transaction: (work) => this.transaction(work),
      announce: (queues) => this.announce(queues),
      insertJobs: (s, jobs) => this.insertJobs(s, jobs),
    };
    this.management = new SqliteJobManagement(context);
    this.roles = {
      management: this.management,
      schedules: new SqliteSchedules(context),
      locks: new SqliteLocks(context),
    };
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
    this.management.clearStatements();
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
}

/** Rolls back if a transaction is open; SQLite already did when the error ended it. */
export function rollback(db: DatabaseSync): void {
  try {
    db.exec('ROLLBACK');
  } catch {
    // "no transaction is active": nothing to undo.
  }
}
