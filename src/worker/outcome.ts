import {
  type AttemptRecord,
  type DeadReason,
  type ErrorCategory,
  type Job,
  type JobError,
  JobTimeoutError,
  SundialError,
  toJson,
  UnknownHandlerError,
  UnrecoverableError,
  UnserializableError,
} from '../core/index.ts';
import { backoffDelay } from '../queue/index.ts';
import type { JobOutcome } from '../store/index.ts';
import type { HandlerDefinition } from './handlers.ts';

/** Latest retry time we store: beyond it JavaScript numbers stop being exact (year 287,396). */
const MAX_RUN_AT = Number.MAX_SAFE_INTEGER;

/**
 * Turns how an attempt ended into the store transition it calls for. This is where the retry
 * policy lives: permanent errors and exhausted attempts go to dead, everything else waits for a
 * retry after the backoff.
 */
export function decideOutcome(input: {
  job: Job;
  worker: string;
  startedAt: number;
  finishedAt: number;
  handler: HandlerDefinition | undefined;
  settled: { ok: true; result: unknown } | { ok: false; error: unknown };
}): JobOutcome {
  const { job, worker, startedAt, finishedAt } = input;
  const base = { id: job.id, owner: worker, attempt: job.attempt, finishedAt };
  let failure: unknown;
  if (input.settled.ok) {
    try {
      const result = toJson(input.settled.result, 'result');
      const record: AttemptRecord = {
        attempt: job.attempt,
        outcome: 'completed',
        worker,
        startedAt,
        finishedAt,
      };
      return { ...base, kind: 'completed', result, record };
    } catch (error) {
      failure = error;
    }
  } else {
    failure = input.settled.error;
  }

  const error = toJobError(failure);
  const record: AttemptRecord = {
    attempt: job.attempt,
    outcome: 'failed',
    worker,
    startedAt,
    finishedAt,
    error,
  };
  const failures = job.failures + 1;
  const permanentReason = permanence(error.category, failure, input.handler);
  if (permanentReason || failures >= job.maxAttempts) {
    return {
      ...base,
      kind: 'dead',
      error,
      record,
      deadLetter: {
        reason: permanentReason ?? 'attempts_exhausted',
        at: finishedAt,
        failures,
        stalls: job.stalls,
        queue: job.queue,
      },
    };
  }
  const delay = input.handler?.backoff
    ? safeCustomDelay(input.handler.backoff, failures, failure, job)
    : backoffDelay(job.backoff, failures);
  return { ...base, kind: 'retry', error, record, runAt: Math.min(finishedAt + delay, MAX_RUN_AT) };
}

/**
 * A `dead` outcome to store instead of one the store refused (a result SQLite cannot bind, say),
 * so the job ends visibly in the dead-letter state rather than blocking its worker.
 */
export function unstorableOutcome(job: Job, refused: JobOutcome, cause: unknown): JobOutcome {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error: JobError = {
    name: 'UnstorableOutcome',
    message: `The store refused this attempt's outcome (${refused.kind}): ${reason}`,
    category: 'unserializable',
  };
  return {
    kind: 'dead',
    id: refused.id,
    owner: refused.owner,
    attempt: refused.attempt,
    finishedAt: refused.finishedAt,
    error,
    record: { ...refused.record, outcome: 'failed', error },
    deadLetter: {
      reason: 'unrecoverable',
      at: refused.finishedAt,
      failures: job.failures + 1,
      stalls: job.stalls,
      queue: job.queue,
    },
  };
}

function permanence(
  category: ErrorCategory,
  error: unknown,
  handler: HandlerDefinition | undefined,
): DeadReason | null {
  if (category === 'unknown_handler') return 'unknown_handler';
  if (category === 'unrecoverable' || category === 'unserializable') return 'unrecoverable';
  if (handler?.isPermanent) {
    try {
      if (handler.isPermanent(error)) return 'unrecoverable';
    } catch {
      // A broken predicate must not lose the job: treat the error as retryable.
    }
  }
  return null;
}

function safeCustomDelay(
  backoff: NonNullable<HandlerDefinition['backoff']>,
  failures: number,
  error: unknown,
  job: Job,
): number {
  try {
    const delay = backoff(failures, error, job);
    if (delay === Number.POSITIVE_INFINITY) return MAX_RUN_AT;
    return Number.isFinite(delay) && delay >= 0 ? Math.round(delay) : 0;
  } catch {
    return 0;
  }
}

export function categorise(error: unknown): ErrorCategory {
  // A task run that timed out fails with an error that carries its output, caused by the timeout.
  if (error instanceof JobTimeoutError || (error instanceof Error && error.cause instanceof JobTimeoutError))
    return 'timeout';
  if (error instanceof UnknownHandlerError) return 'unknown_handler';
  if (error instanceof UnrecoverableError) return 'unrecoverable';
  if (error instanceof UnserializableError) return 'unserializable';
  return 'error';
}

export function toJobError(error: unknown): JobError {
  const category = categorise(error);
  if (error instanceof Error) {
    const out: JobError = { name: error.name, message: error.message, category };
    if (error.stack) out.stack = error.stack;
    if (error instanceof SundialError) out.name = `${error.name} (${error.code})`;
    return out;
  }
  return { name: 'NonError', message: describeThrown(error), category };
}

function describeThrown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return `thrown value: ${JSON.stringify(value)}`;
  } catch {
    return `thrown value: ${String(value)}`;
  }
}
