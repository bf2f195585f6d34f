import { createRequire } from 'node:module';
import type { z } from 'zod';
import { type BackoffSpec, describeThrown, InvalidOptionError, MAX_RUN_AT } from '../core/index.ts';

/** How to retry after a failure. A number is a fixed delay in ms. */
export type BackoffOption =
  | 'none'
  | 'fixed'
  | 'exponential'
  | number
  | { type: 'none' }
  | { type: 'fixed'; delay: number }
  | {
      type: 'exponential';
      /** First retry delay in ms (default 1000). */
      delay?: number;
      /** Growth per failure (default 2). */
      factor?: number;
      /** Cap on one delay in ms (default 1 hour). */
      maxDelay?: number;
      /** Randomise delays so a burst of failures does not retry in lockstep (default `equal`). */
      jitter?: 'none' | 'full' | 'equal';
    };

export interface JobOptions {
  /** Run no sooner than this many ms from now. */
  delay?: number;
  /** Run no sooner than this time. Not together with `delay`. */
  runAt?: Date | number;
  /** Higher runs first among jobs that are due. Integer, default 0. */
  priority?: number;
  /** Failed attempts allowed before the job is dead. Default 3; 1 means no retries. */
  attempts?: number;
  backoff?: BackoffOption;
  /** Soft timeout of one attempt in ms: the handler's signal aborts and the attempt fails. */
  timeout?: number;
  /** While a job with this key is waiting, delayed, failed-awaiting-retry or active, adds return it. */
  dedupeKey?: string;
  /** Times the job may be recovered after its worker died before it is dead. Default 1. */
  maxStalls?: number;
}

export const DEFAULT_JOB_OPTIONS = {
  attempts: 3,
  // Frozen: every job without its own backoff shares this object, so no caller may change it.
  backoff: Object.freeze({
    type: 'exponential',
    delay: 1000,
    factor: 2,
    maxDelay: 3_600_000,
    jitter: 'equal',
  }) as BackoffSpec,
  maxStalls: 1,
  priority: 0,
} as const;

/**
 * zod is loaded on first use, not at import: it adds ~18 MB to a process, and a worker process that
 * never adds jobs with options never needs it. `require` keeps `parseJobOptions` synchronous.
 */
let schemas: ReturnType<typeof buildSchemas> | null = null;

function getSchemas(): ReturnType<typeof buildSchemas> {
  schemas ??= buildSchemas(createRequire(import.meta.url)('zod') as typeof import('zod'));
  return schemas;
}

function buildSchemas({ z }: typeof import('zod')) {
  const ms = z.number().int().nonnegative().max(MAX_RUN_AT);
  const positiveMs = z.number().int().positive().max(2_147_483_647);
  return {
    backoffShorthand: z.union([z.enum(['none', 'fixed', 'exponential']), ms]),
    // A discriminated union (not a plain one) so an error points at the bad field inside the object.
    backoffObject: z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('none') }),
      z.strictObject({ type: z.literal('fixed'), delay: ms }),
      z.strictObject({
        type: z.literal('exponential'),
        delay: ms.optional(),
        factor: z.number().min(1).max(100).optional(),
        maxDelay: ms.optional(),
        jitter: z.enum(['none', 'full', 'equal']).optional(),
      }),
    ]),
    jobOptions: z.strictObject({
      delay: ms.optional(),
      runAt: z.union([z.date().max(new Date(MAX_RUN_AT)), ms]).optional(),
      priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
      attempts: z.number().int().min(1).max(1000).optional(),
      backoff: z.unknown().optional(),
      timeout: positiveMs.optional(),
      dedupeKey: z.string().min(1).max(512).refine(isStorableKey).optional(),
      maxStalls: z.number().int().min(0).max(1000).optional(),
    }),
  };
}

/** What each option must be, in words a user can act on. */
const EXPECTED: Record<keyof JobOptions, string> = {
  delay: 'a whole number of milliseconds, 0 or more, ending by +275760-09-13, the latest valid date',
  runAt: 'a valid Date or epoch milliseconds, 0 to 8640000000000000 (+275760-09-13, the latest valid date)',
  priority: 'a whole number between -1000000 and 1000000',
  attempts: 'a whole number from 1 to 1000',
  backoff:
    "'none', 'fixed', 'exponential', a delay in ms, or { type: 'fixed', delay } / { type: 'exponential', delay?, factor?, maxDelay?, jitter?: 'none' | 'full' | 'equal' }",
  timeout: 'a whole number of milliseconds from 1 to 2147483647',
  dedupeKey: 'a non-empty string of at most 512 characters, without NUL or unpaired surrogates',
  maxStalls: 'a whole number from 0 to 1000',
};

/**
 * Checks options and throws an `InvalidOptionError` naming the first bad field (`field` is the
 * name used in the message, e.g. `options` or `jobs[3].options`).
 */
export function parseJobOptions(options: unknown, field = 'options'): JobOptions {
  if (options === undefined) return {};
  try {
    return parseReadable(options, field);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw error;
    // A getter that throws, a revoked proxy: the options cannot even be read.
    const { name, message } = describeThrown(error);
    throw new InvalidOptionError(
      field,
      options,
      `options that can be read; reading them threw ${name}: ${message}`,
    );
  }
}

function parseReadable(options: unknown, field: string): JobOptions {
  if (!isPlainObject(options)) throw new InvalidOptionError(field, options, 'a plain object of job options');
  if (plainlyValid(options)) return options as JobOptions;
  const { jobOptions, backoffObject, backoffShorthand } = getSchemas();
  const parsed = jobOptions.safeParse(options);
  if (!parsed.success) throw toOptionError(parsed.error.issues[0]!, options, field);
  const value = parsed.data as JobOptions;
  if (value.backoff !== undefined) {
    const schema = typeof value.backoff === 'object' ? backoffObject : backoffShorthand;
    const backoff = schema.safeParse(value.backoff);
    if (!backoff.success)
      throw toOptionError(backoff.error.issues[0]!, value.backoff, `${field}.backoff`, 'backoff');
  }
  if (value.delay !== undefined && value.runAt !== undefined) {
    throw new InvalidOptionError(`${field}.runAt`, value.runAt, 'give either delay or runAt, not both');
  }
  if (value.runAt instanceof Date && Number.isNaN(value.runAt.getTime())) {
    throw new InvalidOptionError(`${field}.runAt`, value.runAt, EXPECTED.runAt);
  }
  return value;
}

/**
 * A key is compared in the store as it is: PostgreSQL cannot hold NUL in text, and it stores an
 * unpaired surrogate as U+FFFD, so two different keys could become one there but not elsewhere.
 */
function isStorableKey(key: string): boolean {
  return !key.includes('\0') && key.isWellFormed();
}

/** `{ ... }` or `Object.create(null)`: not an array, a Map, a class instance or a primitive. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const isInt = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/**
 * The common case checked by hand: an object of known keys with plainly valid values and no
 * backoff. Anything else (including every invalid input) goes through zod, which also words the
 * error. Keeps zod, and its load time, off hot paths like a scheduler firing a job.
 */
function plainlyValid(record: Record<string, unknown>): boolean {
  if (record.delay !== undefined && record.runAt !== undefined) return false;
  for (const key in record) {
    const value = record[key];
    if (value === undefined) continue;
    switch (key) {
      case 'delay':
      case 'runAt':
        if (!isInt(value, 0, MAX_RUN_AT)) return false;
        break;
      case 'priority':
        if (!isInt(value, -1_000_000, 1_000_000)) return false;
        break;
      case 'attempts':
        if (!isInt(value, 1, 1000)) return false;
        break;
      case 'timeout':
        if (!isInt(value, 1, 2_147_483_647)) return false;
        break;
      case 'maxStalls':
        if (!isInt(value, 0, 1000)) return false;
        break;
      case 'dedupeKey':
        if (typeof value !== 'string' || value.length < 1 || value.length > 512 || !isStorableKey(value))
          return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Names the field of the first problem zod found, with the value the user gave. */
function toOptionError(issue: z.core.$ZodIssue, root: unknown, field: string, option?: keyof JobOptions) {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = option ? EXPECTED[option] : `known: ${Object.keys(EXPECTED).join(', ')}`;
    return new InvalidOptionError(
      [field, ...issue.path, key].join('.'),
      valueAt(root, [...issue.path, key]),
      `not an option here; ${known}`,
    );
  }
  if (issue.path.length === 0) {
    return new InvalidOptionError(field, root, option ? EXPECTED[option] : 'an object of job options');
  }
  const key = option ?? (issue.path[0] as keyof JobOptions);
  return new InvalidOptionError(
    [field, ...issue.path].join('.'),
    valueAt(root, issue.path),
    EXPECTED[key] ?? issue.message,
  );
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

export function toBackoffSpec(option: BackoffOption | undefined, fallback: BackoffSpec): BackoffSpec {
  if (option === undefined) return fallback;
  if (typeof option === 'number') return { type: 'fixed', delay: option };
  const type = typeof option === 'string' ? option : option.type;
  const given = typeof option === 'string' ? {} : option;
  switch (type) {
    case 'none':
      return { type: 'none' };
    case 'fixed':
      return { type: 'fixed', delay: (given as { delay?: number }).delay ?? 1000 };
    case 'exponential': {
      const exp = given as Extract<BackoffOption, { type: 'exponential' }>;
      return {
        type: 'exponential',
        delay: exp.delay ?? 1000,
        factor: exp.factor ?? 2,
        maxDelay: exp.maxDelay ?? 3_600_000,
        jitter: exp.jitter ?? 'equal',
      };
    }
  }
}
