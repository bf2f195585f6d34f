/**
 * The job: Sundial's one unit of durable work. Everything else (scheduled tasks, shell commands,
 * workflow steps) becomes a job in a store.
 *
 * States:
 * - `waiting`   ready to be claimed now
 * - `delayed`   added with a delay or `runAt` in the future
 * - `active`    claimed by a worker that holds its lease
 * - `failed`    an attempt failed and the job waits for its retry at `runAt`
 * - `completed` finished successfully
 * - `dead`      failed for good (attempts exhausted, unrecoverable error, unknown handler, too many
 *               stalls): the dead-letter state, with `deadLetter` saying why
 * - `cancelled` cancelled by a user before it finished
 */
export const JOB_STATES = [
  'waiting',
  'delayed',
  'active',
  'failed',
  'completed',
  'dead',
  'cancelled',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * States in which a job still has work ahead of it; a dedupe key is taken while its job is in one.
 * (In the order of the SQLite dedupe index's condition, which its queries must repeat to use it.)
 */
export const LIVE_STATES = ['waiting', 'delayed', 'failed', 'active'] as const satisfies readonly JobState[];
export const FINISHED_STATES = ['completed', 'dead', 'cancelled'] as const satisfies readonly JobState[];

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

/**
 * The latest time a job may be due: the last instant a JavaScript `Date` can hold (year 275760).
 * A later one could never be shown, compared as a date or reached, so it is refused (and a retry's
 * backoff stops there).
 */
export const MAX_RUN_AT = 8_640_000_000_000_000;

/** How long to wait before the next attempt after a failure. Stored with the job. */
export type BackoffSpec =
  | { type: 'none' }
  | { type: 'fixed'; delay: number }
  | {
      type: 'exponential';
      /** Delay before the first retry; each next one doubles (times `factor`). */
      delay: number;
      factor: number;
      /** Upper bound on one delay. */
      maxDelay: number;
      /** `full`: random in [0, d]; `equal`: d/2 + random in [0, d/2]; `none`: exactly d. */
      jitter: 'none' | 'full' | 'equal';
    };

/** Why an attempt ended badly. */
export type ErrorCategory =
  | 'error'
  | 'timeout'
  | 'unrecoverable'
  | 'unknown_handler'
  | 'stalled'
  | 'unserializable';

export interface JobError {
  message: string;
  name: string;
  stack?: string;
  category: ErrorCategory;
}

/** What happened to one run of a job. */
export type AttemptOutcome = 'completed' | 'failed' | 'stalled' | 'released' | 'cancelled';

export interface AttemptRecord {
  /** The run number (1 for the first claim; stalls and releases take a number too). */
  attempt: number;
  outcome: AttemptOutcome;
  worker: string;
  startedAt: number;
  finishedAt: number;
  error?: JobError;
}

export type DeadReason = 'attempts_exhausted' | 'unrecoverable' | 'unknown_handler' | 'stalled';

/** Dead-letter metadata: why and when the job gave up. */
export interface DeadLetterInfo {
  reason: DeadReason;
  at: number;
  /** Failed attempts counted against `maxAttempts` (stalls are counted separately). */
  failures: number;
  stalls: number;
  /** The queue the job was added to. */
  queue: string;
}

/** Where a job came from, when it did not come from a direct `add`. */
export interface JobOrigin {
  /** The scheduled task that fired it. */
  schedule: string;
  /** The occurrence it is for (epoch ms), not when it was added. */
  scheduledFor: number;
  /** True when it makes up for an occurrence missed while no scheduler ran. */
  catchUp: boolean;
}

/** A job as read from a store. `payload` and `result` are already parsed from JSON. */
export interface Job<Payload = unknown, Result = unknown> {
  id: string;
  queue: string;
  /** The handler name. */
  name: string;
  payload: Payload;
  state: JobState;
  /** Higher runs first; default 0. */
  priority: number;
  /** When the job may run (its delay, or its retry time after a failure). */
  runAt: number;
  /**
   * Runs started so far, including ones that stalled or were released (at shutdown, or handed to a
   * worker that had no room after all); retries count `failures`, not this.
   */
  attempt: number;
  /** Failed attempts allowed before the job is dead (1 = no retries). */
  maxAttempts: number;
  /** Failed attempts so far (reset by a manual retry). */
  failures: number;
  backoff: BackoffSpec;
  /** Soft timeout of one attempt, in ms; null for none. */
  timeout: number | null;
  dedupeKey: string | null;
  /** Times the job was recovered after its worker's lease expired. */
  stalls: number;
  maxStalls: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  result: Result | null;
  error: JobError | null;
  deadLetter: DeadLetterInfo | null;
  history: AttemptRecord[];
  origin: JobOrigin | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}
