import type { AttemptRecord, Job, JobState } from '../core/index.ts';
import { parseBackoff } from './encoding.ts';
import type { LockOwner, LockRecord, ScheduleRecord } from './store.ts';

/** Rows of the SQL engines (SQLite and PostgreSQL) and what they become. */

/**
 * A job row as the SQL engines read it: SQLite's `sundial_jobs` and PostgreSQL's `jobs`, integers as
 * numbers and JSON columns as their text (the PostgreSQL store configures its connections so).
 */
export interface JobRow {
  id: number;
  queue: string;
  name: string;
  payload: string;
  state: string;
  priority: number;
  run_at: number;
  attempt: number;
  max_attempts: number;
  failures: number;
  backoff: string;
  timeout_ms: number | null;
  dedupe_key: string | null;
  stalls: number;
  max_stalls: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  result: string | null;
  error: string | null;
  dead_letter: string | null;
  history: string;
  origin: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /**
   * PostgreSQL only: a completed attempt's worker and start, whose record is not in `history`
   * (see the PostgreSQL store's `outcomesCte`). Absent from SQLite's rows and from the rows of jobs
   * being claimed or handed, which are never completed.
   */
  completed_worker?: string | null;
  completed_started_at?: number | null;
}

function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function rowToJob(row: JobRow): Job {
  return {
    id: String(row.id),
    queue: row.queue,
    name: row.name,
    payload: JSON.parse(row.payload),
    state: row.state as JobState,
    priority: row.priority,
    runAt: row.run_at,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    failures: row.failures,
    backoff: parseBackoff(row.backoff),
    timeout: row.timeout_ms,
    dedupeKey: row.dedupe_key,
    stalls: row.stalls,
    maxStalls: row.max_stalls,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    result: parseOrNull(row.result),
    error: parseOrNull(row.error),
    deadLetter: parseOrNull(row.dead_letter),
    history: historyOf(row),
    origin: parseOrNull(row.origin),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** The row's attempt records, with the completed attempt's from its own columns when kept there. */
function historyOf(row: JobRow): AttemptRecord[] {
  const history = JSON.parse(row.history) as AttemptRecord[];
  if (row.state !== 'completed' || row.completed_worker == null) return history;
  history.push({
    attempt: row.attempt,
    outcome: 'completed',
    worker: row.completed_worker,
    startedAt: row.completed_started_at!,
    finishedAt: row.finished_at!,
  });
  return history;
}

export interface LockRow {
  name: string;
  /** JSON of a `LockOwner`. */
  owner: string;
  token: number;
  acquired_at: number;
  heartbeat_at: number;
  ttl_ms: number;
}

export function lockFromRow(row: LockRow): LockRecord {
  return {
    name: row.name,
    owner: JSON.parse(row.owner) as LockOwner,
    token: row.token,
    acquiredAt: row.acquired_at,
    heartbeatAt: row.heartbeat_at,
    ttlMs: row.ttl_ms,
  };
}

export interface ScheduleRow {
  id: string;
  spec_hash: string;
  next_run_at: number | null;
  last_run_at: number | null;
  /** SQLite has no booleans: 0 or 1 there, true or false on PostgreSQL. */
  paused: boolean | number;
  note: string | null;
  updated_at: number;
}

export function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    specHash: row.spec_hash,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    paused: row.paused === true || row.paused === 1,
    note: row.note,
    updatedAt: row.updated_at,
  };
}
