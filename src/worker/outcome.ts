import {
  type AttemptRecord,
  type DeadReason,
  defaultMasker,
  describeThrown,
  type ErrorCategory,
  isErrorSafely,
  type Job,
  type JobError,
  JobTimeoutError,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_ERROR_STACK_CHARS,
  MAX_RUN_AT,
  type Masker,
  ResultTooLargeError,
  readText,
  SundialError,
  storableText,
  toJson,
  UnknownHandlerError,
  UnrecoverableError,
  UnserializableError,
  wellFormed,
} from '../core/index.ts';
import { backoffDelay } from '../queue/index.ts';
import type { JobOutcome } from '../store/index.ts';
import type { HandlerDefinition } from './handlers.ts';

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
  /** Largest result stored, in bytes of JSON; a larger one fails the attempt for good. */
  maxResultBytes: number;
  /** Masks secrets in the error stored (default: the built-in rules). */
  masker?: Masker;
}): JobOutcome {
  const { job, worker, startedAt, finishedAt } = input;
  const base = { id: job.id, owner: worker, attempt: job.attempt, finishedAt };
  let failure: unknown;
  if (input.settled.ok) {
    try {
      const result = toJson(input.settled.result, 'result');
      checkResultSize(result, input.maxResultBytes);
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

  const error = toJobError(failure, input.masker);
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
export function unstorableOutcome(
  job: Job,
  refused: JobOutcome,
  cause: unknown,
  masker: Masker = defaultMasker,
): JobOutcome {
  const error: JobError = {
    name: 'UnstorableOutcome',
    message: storableText(
      masker.mask(
        `The store refused this attempt's outcome (${refused.kind}): ${describeThrown(cause).message}`,
      ),
      MAX_ERROR_MESSAGE_CHARS,
    ),
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

/** A result over the limit fails its attempt: silently cutting it would store something else. */
function checkResultSize(json: string, maxBytes: number): void {
  // Three bytes per UTF-16 unit at most: most results are far below and skip the count.
  if (json.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new ResultTooLargeError(bytes, maxBytes);
}

/** Never throws, whatever was thrown (a revoked proxy cannot even be asked what it is). */
export function categorise(error: unknown): ErrorCategory {
  try {
    // A task run that timed out fails with an error that carries its output, caused by the timeout.
    if (
      error instanceof JobTimeoutError ||
      (error instanceof Error && error.cause instanceof JobTimeoutError)
    )
      return 'timeout';
    if (error instanceof UnknownHandlerError) return 'unknown_handler';
    if (error instanceof UnrecoverableError || error instanceof ResultTooLargeError) return 'unrecoverable';
    // Thrown through another copy of Sundial (a config file that imports the library's source while
    // the CLI runs its build): not this copy's class, but the same error by its code.
    if (error instanceof Error && (error as { code?: unknown }).code === 'SUNDIAL_UNRECOVERABLE') {
      return 'unrecoverable';
    }
    if (error instanceof UnserializableError) return 'unserializable';
  } catch {
    // Not one of ours, whatever it is.
  }
  return 'error';
}

/**
 * What an attempt's failure stores: a readable description of anything thrown, with its secrets
 * masked (before it is cut to size, so no secret is cut in half and missed), made storable the same
 * way on every engine (see `storableText`). Never throws.
 */
export function toJobError(error: unknown, masker: Masker = defaultMasker): JobError {
  const category = categorise(error);
  const described = describeThrown(error);
  const out: JobError = {
    name: maskedAndBounded(described.name, 200, masker),
    message: maskedAndBounded(described.message, MAX_ERROR_MESSAGE_CHARS, masker),
    category,
  };
  if (described.stack !== undefined)
    out.stack = maskedAndBounded(described.stack, MAX_ERROR_STACK_CHARS, masker);
  const code = readText(() =>
    isErrorSafely(error) && error instanceof SundialError ? error.code : undefined,
  );
  if (code !== undefined) out.name = storableText(`${out.name} (${code})`, 200);
  return out;
}

/**
 * Masked, then cut to `maxChars` (start and end kept). Masking reads the whole text, so a huge one
 * (a handler throwing hundreds of megabytes) is first cut to a generous window around what is kept,
 * at whitespace, so that no token is split and slips past the masker in halves.
 */
function maskedAndBounded(text: string, maxChars: number, masker: Masker): string {
  if (text.length <= maxChars * 4) return storableText(masker.mask(text), maxChars);
  const head = lastSpaceBefore(text, maxChars * 2);
  const tail = firstSpaceAfter(text, text.length - maxChars * 2);
  const start = masker.mask(text.slice(0, head));
  const end = masker.mask(text.slice(tail));
  const keep = Math.max(0, Math.floor(maxChars / 2) - 40);
  const note = `\n[... ${text.length - 2 * keep} characters cut ...]\n`;
  return wellFormed(start.slice(0, keep) + note + end.slice(Math.max(0, end.length - keep)));
}

/** Where a cut before `index` falls on whitespace, looking back at most 1,000 characters. */
function lastSpaceBefore(text: string, index: number): number {
  const found = text.slice(index - 1000, index).search(/\s[^\s]*$/);
  return found < 0 ? index : index - 1000 + found;
}

/** Where a cut after `index` falls on whitespace, looking on at most 1,000 characters. */
function firstSpaceAfter(text: string, index: number): number {
  const found = text.slice(index, index + 1000).search(/\s/);
  return found < 0 ? index : index + found;
}
