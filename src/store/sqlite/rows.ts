import type { BackoffSpec, Job, JobState } from '../../core/index.ts';

/** A row of `sundial_jobs` as node:sqlite returns it (integers as numbers). */
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

// Most jobs of a queue share one backoff; parsing each distinct spec once keeps claims cheap.
const backoffCache = new Map<string, BackoffSpec>();

function parseBackoff(text: string): BackoffSpec {
  let spec = backoffCache.get(text);
  if (spec === undefined) {
    spec = Object.freeze(JSON.parse(text)) as BackoffSpec;
    if (backoffCache.size < 1000) backoffCache.set(text, spec);
  }
  return spec;
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
