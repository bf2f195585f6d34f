import type { Job, JobState } from '../core/index.ts';
import { parseBackoff } from './encoding.ts';

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
    history: JSON.parse(row.history),
    origin: parseOrNull(row.origin),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
