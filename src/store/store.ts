import type { AttemptRecord, BackoffSpec, DeadLetterInfo, Job, JobError, JobState } from '../core/index.ts';
import type { JobSearch } from './job-search.ts';

/**
 * The storage contract every engine (SQLite, PostgreSQL, Redis) implements with the same meaning.
 * An engine knows storage and nothing else: what a state transition means, when to retry and how
 * long to back off are decided above it, and each method here is one atomic step in the store
 * (a transaction, a Lua script). Times are epoch ms passed in by the caller, never read from the
 * engine's own clock, so a fake clock drives the whole system in tests.
 *
 * It is the sum of role interfaces, one per concern (below, and `JobSearch`): a new capability adds
 * a role, with a conformance suite of its own, rather than more methods to one interface.
 */
export interface Store
  extends JobWork,
    JobManagement,
    QueueSettings,
    ScheduleStore,
    LockStore,
    FlagStore,
    WakeUps,
    JobSearch {
  /** `sqlite`, `postgres`, `redis`: for logs and the conformance suite, never for branching. */
  readonly engine: string;

  /**
   * How many `finishAndClaim` rounds a worker keeps under way at once. 1 where the engine works in
   * the caller's thread (SQLite): a second round would only queue behind the first. 2 for a server:
   * it answers one round while the worker runs the jobs of the other, and a busy worker's store
   * time and run time overlap instead of taking turns. Absent (a store written before it): 1.
   */
  readonly pipelineDepth?: number;

  /**
   * How many `addJobs` calls a burst of single adds (group commit) is split into, sent at once.
   * More than 1 only where the calls are stored in the order they were sent, so ids still follow
   * the order of the adds: Redis, whose one connection runs them one after the other while the
   * client builds the next. 1 on SQLite (one thread) and PostgreSQL (concurrent inserts that
   * notify were much slower here). The order holds while nothing fails: a part that fails is
   * retried add by add, after the next part was stored. Absent: 1.
   */
  readonly addBatchParts?: number;

  /** Direct handoff from adds to idle workers, where the engine has it (see `Handoff`). */
  readonly handoff?: Handoff;

  /** Creates or migrates the schema. Safe to call from many processes at once; idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/** What producers and workers do: add, claim, finish, and keep or give back leases. */
export interface JobWork {
  /**
   * Inserts jobs in one atomic step, in order. A job whose `dedupeKey` is held by a live job
   * (waiting, delayed, failed or active) of the same queue is not inserted: its entry reports the
   * holder's id with `duplicate: true`. Dedupe applies within the batch too.
   */
  addJobs(jobs: readonly NewJob[]): Promise<AddedJob[]>;

  /**
   * Claims up to `limit` runnable jobs of a queue that is not paused: first makes due delayed and
   * failed jobs waiting, then takes waiting ones by priority (high first), run-at, then id; each
   * claimed job becomes active with `attempt + 1`, the lease owner and `leaseExpiresAt`.
   * Returns them in that order.
   */
  claimJobs(request: ClaimRequest): Promise<Job[]>;

  /**
   * `finishJobs(outcomes)` then, if `claim` is given, `claimJobs(claim)`, in one transaction (or
   * round trip) where the engine can: a busy worker reports a batch and takes the next one for the
   * price of one commit.
   */
  finishAndClaim(outcomes: readonly JobOutcome[], claim: ClaimRequest | null): Promise<FinishAndClaimResult>;

  /**
   * Extends the leases `owner` still holds for exactly these runs (id and attempt); returns the ids
   * of those it still holds.
   */
  renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]>;

  /**
   * Applies each outcome if, and only if, the job is still active under that owner and attempt;
   * returns per outcome whether it applied (false: the lease was lost to a stall or a cancel).
   */
  finishJobs(outcomes: readonly JobOutcome[]): Promise<boolean[]>;

  /**
   * Puts jobs this owner still holds back to waiting (graceful shutdown, or jobs a worker has no
   * room for after all), each with a `released` attempt record; returns how many.
   */
  releaseJobs(owner: string, ids: readonly string[], now: number): Promise<number>;

  /**
   * Withdraws the owner's offer in `queue` (where the store hands jobs), then puts back to waiting
   * the jobs of the queue active under `owner` but not among `held`: claims whose answer never
   * reached the owner (the connection cut between the claim's write and its reply), jobs handed to
   * it whose message was lost or is still on its way, jobs handed while it was closing. Each gets a
   * `released` record and no stall is counted: the owner never ran them. The owner calls it with no
   * claim of its own under way (a claim's jobs are not in `held` until its answer arrives), and must
   * not start a released run whose handed message arrives later. Returns the runs it released.
   */
  releaseOrphans(request: OwnedJobs): Promise<HeldLease[]>;

  /**
   * Finds active jobs whose lease expired before `now` (optionally of one queue): those with
   * `stalls < maxStalls` go back to waiting with `stalls + 1`; the others become dead with
   * reason `stalled`. Each gets a `stalled` attempt record. Leases of `exceptOwner` are left alone
   * (a live worker asking knows its own leases are not abandoned).
   */
  recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]>;

  /** The earliest `runAt` among delayed and failed jobs of the queue, or null. */
  nextRunAt(queue: string): Promise<number | null>;
}

/** Jobs one at a time, as the queue API and the admin surface read and change them. */
export interface JobManagement {
  getJob(id: string): Promise<Job | null>;
  listJobs(request: ListJobsRequest): Promise<Job[]>;
  countJobs(queue: string): Promise<Record<JobState, number>>;

  /**
   * Makes a job waiting again at `now` with `failures = 0`, if its state is in `from`.
   * Fails with reason `duplicate` when a live job already holds its dedupe key.
   */
  retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult>;
  /**
   * Makes a job cancelled if its state is in `from`. An active job's worker loses its lease and is
   * told through `CANCELS_CHANNEL`.
   */
  cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult>;
  /** Deletes a job if its state is in `from`. */
  removeJob(id: string, request: TransitionRequest): Promise<TransitionResult>;
  /** Deletes jobs of the queue in `states` finished before `finishedBefore`; returns how many. */
  pruneJobs(request: { queue: string; states: readonly JobState[]; finishedBefore: number }): Promise<number>;
}

/** Queues: pause flags and the list of queues. */
export interface QueueSettings {
  setQueuePaused(queue: string, paused: boolean): Promise<void>;
  isQueuePaused(queue: string): Promise<boolean>;
  /** Every queue that has jobs or a pause flag. */
  listQueues(): Promise<string[]>;
}

/** Scheduled tasks' records and their exactly-once fire. */
export interface ScheduleStore {
  /**
   * Records task definitions: a new id is inserted with `nextRunAt`; an existing one whose
   * `specHash` changed takes the new hash and `nextRunAt`; an unchanged one keeps its state (so a
   * restart does not forget what was missed). Ids not in `entries` are left alone.
   */
  syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void>;

  /**
   * Compare-and-set on the schedule's next run: if, and only if, it is still `expectedNextRunAt`
   * (and not paused), moves it to `nextRunAt`, notes `firedAt` as its last run and adds `jobs` —
   * all in one atomic step. Many schedulers may race for one occurrence; exactly one wins.
   */
  fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }>;

  /** The earliest `nextRunAt` of schedules not paused, or null. */
  nextScheduleRunAt(): Promise<number | null>;

  listSchedules(): Promise<ScheduleRecord[]>;

  /** The newest job each schedule fired (its latest run, whatever its state), by schedule id. */
  latestRuns(): Promise<Map<string, Job>>;

  /**
   * Pauses or resumes a schedule, with an optional note; false when there is no such id. A resume
   * may give `resumeAt`, the next run counted from now, so the paused time is not replayed as
   * missed occurrences.
   */
  setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean>;
}

/** Named locks with heartbeats, TTLs and fencing tokens. */
export interface LockStore {
  /**
   * Takes lock `name` for `owner` if it is free or its holder's heartbeat is older than the
   * holder's TTL; returns the lock with a fencing token greater than any before it for that name,
   * or null with the current holder left alone.
   */
  acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null>;
  /** Extends a held lock's heartbeat; false when `token` no longer holds it. */
  renewLock(name: string, token: number, now: number): Promise<boolean>;
  /** Lets go of a lock; false when `token` no longer holds it. With no token, whoever holds it. */
  releaseLock(name: string, token?: number): Promise<boolean>;
  /** Every held lock. */
  listLocks(): Promise<LockRecord[]>;
}

/** Store-wide settings (the maintenance flag). */
export interface FlagStore {
  /** A store-wide setting, like maintenance mode; null when unset. */
  getFlag(name: string): Promise<string | null>;
  /** Sets (or, with null, clears) a store-wide setting and tells schedulers. */
  setFlag(name: string, value: string | null): Promise<void>;
}

/** Being told soon after something may have become claimable or changed. */
export interface WakeUps {
  /**
   * Calls `listener` soon after jobs may have become claimable in `queue` — added by this process
   * or another one sharing the store. False alarms are allowed; missed ones are not meant to
   * happen, but workers also poll slowly as a backstop. Returns an unsubscribe function.
   */
  subscribe(queue: string, listener: () => void): () => void;
}

export interface NewJob {
  queue: string;
  name: string;
  /** Already JSON. */
  payload: string;
  state: 'waiting' | 'delayed';
  priority: number;
  runAt: number;
  maxAttempts: number;
  backoff: BackoffSpec;
  timeout: number | null;
  dedupeKey: string | null;
  maxStalls: number;
  /** JSON of a `JobOrigin`, or null. */
  origin: string | null;
  createdAt: number;
}

/** Who holds a lock: enough to tell a live holder from a dead one on the same host. */
export interface LockOwner {
  host: string;
  pid: number;
  /** What it runs under the lock (a task run, a job id), for people reading `sundial locks`. */
  runId: string;
}

export interface LockRecord {
  name: string;
  owner: LockOwner;
  /** Grows with every acquisition of this name: a holder can tell it was superseded. */
  token: number;
  acquiredAt: number;
  heartbeatAt: number;
  ttlMs: number;
}

/** The flag `sundial down` sets: while it is set, tasks skip unless they run even in maintenance. */
export const MAINTENANCE_FLAG = 'maintenance';

/** The channel `subscribe` uses for changes to schedules (not a valid queue name). */
export const SCHEDULES_CHANNEL = '#schedules';

/**
 * The channel `subscribe` uses when an active job was cancelled (an interrupt, a replaced task run):
 * its worker renews its leases at once, finds the lease gone and aborts the run, rather than
 * noticing at its next heartbeat.
 */
export const CANCELS_CHANNEL = '#cancels';

/**
 * The channel `subscribe` uses, in this process only, when the store's connection came back after
 * it was lost: a request sent before may have been carried out with its answer lost (ioredis sends
 * it again, and the second answer is the one heard), so workers look for claims of theirs they
 * never heard of (`releaseOrphans`). Stores whose calls fail instead, when an answer is lost, need
 * not tell it: the caller hears the failure.
 */
export const RECONNECTS_CHANNEL = '#reconnects';

/** Channels are not queues: waking "every queue" leaves them out. */
export function isChannel(name: string): boolean {
  return name.startsWith('#');
}

export interface ScheduleSync {
  id: string;
  /** Changes whenever the definition's timing changes. */
  specHash: string;
  /** The first occurrence from now, or null when it never runs. */
  nextRunAt: number | null;
}

export interface FireScheduleRequest {
  id: string;
  expectedNextRunAt: number;
  nextRunAt: number | null;
  firedAt: number;
  jobs: readonly NewJob[];
  /**
   * What a job does, in the same atomic step, when its dedupe key is held by an *active* job (a
   * run still going). Absent: it is a duplicate, like any held key. `buffer`: it is added under
   * its key plus `BUFFERED_KEY_SUFFIX` (itself deduped, so at most one waits). `replace`: the
   * active job is cancelled (as `cancelJob` does, telling `CANCELS_CHANNEL`) and it is added.
   * A key held by a job that has not started yet is a duplicate either way.
   */
  whenActive?: 'buffer' | 'replace';
}

/** Added to a job's dedupe key for the one run a `buffer` fire keeps waiting behind an active one. */
export const BUFFERED_KEY_SUFFIX = '#next';

export interface ScheduleRecord {
  id: string;
  specHash: string;
  nextRunAt: number | null;
  lastRunAt: number | null;
  paused: boolean;
  note: string | null;
  updatedAt: number;
}

export interface AddedJob {
  id: string;
  /** True when nothing was inserted because a live job holds the dedupe key; `id` is that job's. */
  duplicate: boolean;
  /** The active job cancelled to make room for this one (`fireSchedule` with `whenActive: 'replace'`). */
  replaced?: string;
}

export interface HeldLease {
  id: string;
  attempt: number;
}

export interface ClaimRequest {
  queue: string;
  owner: string;
  limit: number;
  now: number;
  leaseExpiresAt: number;
  /**
   * Only where the store has a `handoff`, and only by an owner receiving through it: the slots this
   * claim leaves free are offered, until this time, to the adds that come next (replacing the
   * owner's earlier offer; a claim that takes its whole limit withdraws it). Absent: no change.
   */
  offerUntil?: number;
  /**
   * With `offerUntil`: the owner counts on the offer its earlier claim made (less what was handed
   * under it since) as still good enough, so a claim that takes no job leaves it as it is instead
   * of writing it again; one that takes jobs replaces it as usual. That spares a write per claim,
   * and on PostgreSQL a lock on the offer's row, which an add handing a job meanwhile would find
   * taken and pass over.
   */
  offerStands?: boolean;
}

/**
 * Direct handoff: an idle worker offers its free slots (`ClaimRequest.offerUntil`); an add whose job
 * is the only one claimable in its queue then claims it for that worker in the same atomic step
 * (active, `attempt + 1`, leased for as long as the worker's claims lease) and sends it to the
 * worker, which starts it without being woken and claiming. Only a worker still listening is
 * handed anything. A job whose message is lost (a connection cut) is an orphan of its owner, which
 * gives it back with `Store.releaseOrphans` (also how it withdraws its offer).
 */
export interface Handoff {
  /**
   * Delivers the jobs handed to `owner`, as they arrive. Resolves once deliveries are heard (offer
   * only after that) with a function that stops them, resolving once nothing more is handed.
   */
  receive(owner: string, deliver: (jobs: Job[]) => void): Promise<() => Promise<void>>;
}

/** A worker's jobs in a queue, as it knows them (`releaseOrphans`). */
export interface OwnedJobs {
  queue: string;
  owner: string;
  /** The jobs it holds: running, waiting for a slot, or finished with the outcome not stored yet. */
  held: readonly string[];
  now: number;
}

export interface FinishAndClaimResult {
  /** Per outcome, as `finishJobs` reports it. */
  applied: boolean[];
  /** What the claim took, as `claimJobs` returns it; empty without a claim. */
  jobs: Job[];
  /**
   * When a claim took fewer jobs than its limit, an engine that could read it in the same step may
   * say when the queue's next delayed or failed job is due (null: none), as `nextRunAt` would, so
   * an idle worker sets its timer without another round trip. Absent: ask `nextRunAt`.
   */
  nextRunAt?: number | null;
}

interface OutcomeBase {
  id: string;
  owner: string;
  /** The run number the owner claimed; guards against finishing a later run. */
  attempt: number;
  finishedAt: number;
  record: AttemptRecord;
}

export type JobOutcome =
  | (OutcomeBase & { kind: 'completed'; result: string })
  | (OutcomeBase & { kind: 'retry'; runAt: number; error: JobError })
  | (OutcomeBase & { kind: 'dead'; error: JobError; deadLetter: DeadLetterInfo });

export interface StalledJob {
  id: string;
  queue: string;
  name: string;
  /** True when it went back to waiting, false when it became dead. */
  recovered: boolean;
}

export interface RecoverStalledRequest {
  now: number;
  /** Only this queue's jobs; default every queue. */
  queue?: string;
  /** A live worker asking: its leases are left alone… */
  exceptOwner?: string;
  /**
   * …only these of them, when given: the runs it knows it holds. Any other job active under its
   * name is an orphan (a claim whose answer never reached it) and is recovered like any stalled one.
   */
  exceptHeld?: readonly string[];
}

export interface ListJobsRequest {
  queue: string;
  state?: JobState;
  offset?: number;
  limit?: number;
  /** By id: `asc` oldest first (the default), `desc` newest first. */
  order?: 'asc' | 'desc';
}

/** A job of another queue is reported as not found and left alone. */
export interface TransitionRequest {
  queue: string;
  from: readonly JobState[];
}

export type TransitionResult =
  | { ok: true; job: Job }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'state'; state: JobState }
  | { ok: false; reason: 'duplicate'; holder: string };

/**
 * The error a job is buried with when it stalled more than its `maxStalls` (its worker stopped
 * renewing its lease): the same on every engine, as JSON the engines store.
 */
export const STALLED_ERROR: JobError = {
  name: 'StalledError',
  message: 'The worker stopped renewing its lease (it crashed, hung or lost the store)',
  category: 'stalled',
};
export const STALLED_ERROR_JSON = JSON.stringify(STALLED_ERROR);

/** All counts zero; engines fill in what they find. */
export function emptyCounts(): Record<JobState, number> {
  return { waiting: 0, delayed: 0, active: 0, failed: 0, completed: 0, dead: 0, cancelled: 0 };
}
