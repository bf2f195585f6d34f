import type { Job, JobState } from '../../core/index.ts';
import { backoffJson, parseBackoff } from '../encoding.ts';
import type { JobOutcome, NewJob } from '../store.ts';

/** A nullable script argument: '' for null, '=' and the value otherwise (see scripts.ts). */
export function nullable(value: string | number | null): string {
  return value === null ? '' : `=${value}`;
}

/** Appends the 13 script arguments of a new job (the order `insertAt` in scripts.ts reads). */
export function pushJobArgs(args: string[], job: NewJob): void {
  args.push(
    job.queue,
    job.name,
    job.payload,
    job.state,
    String(job.priority),
    String(job.runAt),
    String(job.maxAttempts),
    backoffJson(job.backoff),
    nullable(job.timeout),
    nullable(job.dedupeKey),
    String(job.maxStalls),
    nullable(job.origin),
    String(job.createdAt),
  );
}

/** Appends the 8 script arguments of an outcome (the order `finish` in scripts.ts reads). */
export function pushOutcomeArgs(args: string[], outcome: JobOutcome): void {
  args.push(
    outcome.kind,
    outcome.id,
    outcome.owner,
    String(outcome.attempt),
    String(outcome.finishedAt),
    JSON.stringify(outcome.record),
  );
  switch (outcome.kind) {
    case 'completed':
      args.push(outcome.result, '');
      break;
    case 'retry':
      args.push(String(outcome.runAt), JSON.stringify(outcome.error));
      break;
    case 'dead':
      args.push(JSON.stringify(outcome.error), JSON.stringify(outcome.deadLetter));
      break;
  }
}

/** A hash as HGETALL returns it inside a script: field, value, field, value. */
export type FlatHash = string[];

export function fields(flat: FlatHash): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!);
  return map;
}

function numberOrNull(text: string | undefined): number | null {
  return text === undefined ? null : Number(text);
}

function countOf(text: string | undefined): number {
  return text === undefined ? 0 : Number(text);
}

function parseOrNull<T>(text: string | undefined): T | null {
  return text === undefined ? null : (JSON.parse(text) as T);
}

/**
 * A job hash as the `Job` every engine returns. Absent fields are nulls, except the counts (attempt,
 * failures, stalls: zero) and the history (empty), which a new job's hash leaves out.
 */
export function jobFromHash(flat: FlatHash): Job {
  const f = fields(flat);
  const get = (name: string) => f.get(name)!;
  return {
    id: get('id'),
    queue: get('queue'),
    name: get('name'),
    payload: JSON.parse(get('payload')),
    state: get('state') as JobState,
    priority: Number(get('priority')),
    runAt: Number(get('runAt')),
    attempt: countOf(f.get('attempt')),
    maxAttempts: Number(get('maxAttempts')),
    failures: countOf(f.get('failures')),
    backoff: parseBackoff(get('backoff')),
    timeout: numberOrNull(f.get('timeout')),
    dedupeKey: f.get('dedupeKey') ?? null,
    stalls: countOf(f.get('stalls')),
    maxStalls: Number(get('maxStalls')),
    leaseOwner: f.get('leaseOwner') ?? null,
    leaseExpiresAt: numberOrNull(f.get('leaseExpiresAt')),
    result: parseOrNull(f.get('result')),
    error: parseOrNull(f.get('error')),
    deadLetter: parseOrNull(f.get('deadLetter')),
    history: f.has('history') ? JSON.parse(get('history')) : [],
    origin: parseOrNull(f.get('origin')),
    createdAt: Number(get('createdAt')),
    startedAt: numberOrNull(f.get('startedAt')),
    finishedAt: numberOrNull(f.get('finishedAt')),
  };
}
