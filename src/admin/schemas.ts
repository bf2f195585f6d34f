import { FINISHED_STATES, isValidName, JOB_STATES, type JobState, MAX_RUN_AT } from '../core/index.ts';
import type { JobAction } from '../queue/index.ts';
import type { CallSchema } from './validate.ts';

/** What each field of the admin calls takes, in words (shared by the calls that have the field). */
const EXPECTED = {
  queue: 'a queue name: 1 to 200 letters, digits or _ . : @ / -',
  id: 'a job id: digits, like "42"',
  ids: 'a list of 1 to 100,000 job ids',
  states: `a list of job states (${JOB_STATES.join(', ')})`,
  name: 'a job name: 1 to 200 letters, digits or _ . : @ / -',
  createdFrom: 'a time: epoch milliseconds or an ISO 8601 date (2026-11-30, 2026-11-30T08:00:00Z)',
  createdTo: 'a time: epoch milliseconds or an ISO 8601 date (2026-11-30, 2026-11-30T08:00:00Z)',
  text: 'text of 1 to 500 characters to find in payloads and errors, without NUL or half a surrogate pair',
  cursor: "a page's `next` cursor, as an earlier page returned it",
  limit: 'a whole number, 1 or more, within the call’s maximum',
  order: '"asc" (oldest first) or "desc" (newest first)',
  action: '"retry", "cancel", "remove" or "promote"',
  filter: 'a filter: { queue, states?, name?, createdFrom?, createdTo?, text? }',
  dryRun: 'true or false',
  force: 'true or false',
  confirm: 'the queue’s name again, to confirm',
  note: 'text of at most 1000 characters, without NUL or half a surrogate pair',
  olderThan: 'a whole number of milliseconds, 0 or more',
  pollMs: 'a whole number of milliseconds from 10 to 60,000',
  timeoutMs: 'a whole number of milliseconds, 1 or more',
  upcoming: 'how many next runs to list: 0 to 100',
  task: 'a task id: text of 1 to 500 characters',
  lock: 'a lock name: text of 1 to 500 characters',
  operation: 'an operation id, as a bulk action returned it',
} as const;

function expected(...fields: (keyof typeof EXPECTED)[]): Record<string, string> {
  return Object.fromEntries(fields.map((field) => [field, EXPECTED[field]]));
}

/** The fields of a job filter; the listing calls take them at the top level, bulk calls under `filter`. */
export interface JobFilterInput {
  queue: string;
  states?: JobState[];
  name?: string;
  createdFrom?: number;
  createdTo?: number;
  text?: string;
}

type Zod = Parameters<CallSchema<unknown>['build']>[0];

const filterShape = (z: Zod) => {
  const time = z
    .union([z.number().int().nonnegative().max(MAX_RUN_AT), z.string().min(1).max(40), z.date()])
    .transform((value, ctx) => {
      // A string must look like an ISO 8601 date: Date.parse would also take "12" (as 2001).
      if (typeof value === 'string' && !ISO_DATE.test(value)) {
        ctx.addIssue({ code: 'custom', message: 'not an ISO 8601 date' });
        return z.NEVER;
      }
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : +value;
      if (Number.isNaN(ms) || ms < 0 || ms > MAX_RUN_AT) {
        ctx.addIssue({ code: 'custom', message: 'not a time' });
        return z.NEVER;
      }
      return ms;
    });
  return {
    queue: name(z),
    states: z.array(z.enum(JOB_STATES)).max(JOB_STATES.length).optional(),
    name: name(z).optional(),
    createdFrom: time.optional(),
    createdTo: time.optional(),
    text: z.string().min(1).max(500).refine(isStorableText).optional(),
  };
};
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
/** Text every engine can take as a parameter: PostgreSQL refuses NUL, and none stores half a pair. */
const isStorableText = (text: string) => !text.includes('\0') && text.isWellFormed();
/** A queue or job name as `checkName` takes it: any other could never match. */
const name = (z: Zod) => z.string().refine(isValidName);
const jobId = (z: Zod) => z.string().regex(/^[1-9][0-9]{0,15}$/);
const note = (z: Zod) => z.string().max(1000).refine(isStorableText);

const FILTER_FIELDS = ['queue', 'states', 'name', 'createdFrom', 'createdTo', 'text'] as const;

/** The paging fields of a listing. */
const pageShape = (z: Zod) => ({
  cursor: jobId(z).optional(),
  limit: z.number().int().min(1).max(1000).default(50),
  order: z.enum(['asc', 'desc']).default('desc'),
  countCap: z.number().int().min(0).max(10_000_000).default(10_000),
});
interface PageInput {
  cursor?: string;
  limit: number;
  order: 'asc' | 'desc';
  countCap: number;
}
const PAGE_EXPECTED = {
  ...expected('cursor', 'order'),
  limit: 'a whole number from 1 to 1000',
  countCap: 'how far to count the total: 0 to 10,000,000',
};

export const LIST_JOBS: CallSchema<JobFilterInput & PageInput> = {
  build: (z) => z.strictObject({ ...filterShape(z), ...pageShape(z) }),
  expected: { ...expected(...FILTER_FIELDS), ...PAGE_EXPECTED },
};

export const JOB_REF: CallSchema<{ queue: string; id: string }> = {
  build: (z) => z.strictObject({ queue: name(z), id: jobId(z) }),
  expected: expected('queue', 'id'),
};

export const BULK: CallSchema<{
  action: JobAction;
  filter: JobFilterInput;
  limit?: number;
  dryRun: boolean;
}> = {
  build: (z) =>
    z.strictObject({
      action: z.enum(['retry', 'cancel', 'remove', 'promote']),
      filter: z.strictObject(filterShape(z)),
      limit: z.number().int().min(1).max(100_000_000).optional(),
      dryRun: z.boolean().default(false),
    }),
  expected: {
    ...expected('action', 'dryRun'),
    ...Object.fromEntries(FILTER_FIELDS.map((field) => [`filter.${field}`, EXPECTED[field]])),
    filter: EXPECTED.filter,
    limit: 'at most this many jobs: a whole number from 1 to 100,000,000',
  },
};

/** The dead-letter calls: a job filter whose state is dead, so it has no `states`. */
export const DLQ_LIST: CallSchema<Omit<JobFilterInput, 'states'> & PageInput> = {
  build: (z) => {
    const { states: _states, ...shape } = filterShape(z);
    return z.strictObject({ ...shape, ...pageShape(z) });
  },
  expected: LIST_JOBS.expected,
};

export const DLQ_BULK: CallSchema<Omit<JobFilterInput, 'states'> & { limit?: number; dryRun: boolean }> = {
  build: (z) => {
    const { states: _states, ...shape } = filterShape(z);
    return z.strictObject({
      ...shape,
      limit: z.number().int().min(1).max(100_000_000).optional(),
      dryRun: z.boolean().default(false),
    });
  },
  expected: { ...expected(...FILTER_FIELDS, 'dryRun'), limit: BULK.expected.limit! },
};

export const QUEUE_REF: CallSchema<{ queue: string }> = {
  build: (z) => z.strictObject({ queue: name(z) }),
  expected: expected('queue'),
};

export const DRAIN: CallSchema<{ queue: string; dryRun: boolean }> = {
  build: (z) => z.strictObject({ queue: name(z), dryRun: z.boolean().default(false) }),
  expected: expected('queue', 'dryRun'),
};

export const OBLITERATE: CallSchema<{ queue: string; confirm: string; force: boolean }> = {
  build: (z) =>
    z.strictObject({
      queue: name(z),
      confirm: z.string(),
      force: z.boolean().default(false),
    }),
  expected: expected('queue', 'confirm', 'force'),
};

export const PRUNE: CallSchema<{ queue: string; olderThan: number; states: JobState[] }> = {
  build: (z) =>
    z.strictObject({
      queue: name(z),
      olderThan: z.number().int().nonnegative().max(MAX_RUN_AT),
      states: z.array(z.enum(FINISHED_STATES)).min(1).default(['completed']),
    }),
  expected: { ...expected('queue', 'olderThan'), states: `finished states (${FINISHED_STATES.join(', ')})` },
};

export const WAIT_FOR_JOBS: CallSchema<{ ids: string[]; pollMs: number; timeoutMs?: number }> = {
  build: (z) =>
    z.strictObject({
      ids: z.array(jobId(z)).min(1).max(100_000),
      pollMs: z.number().int().min(10).max(60_000).default(50),
      timeoutMs: z.number().int().min(1).optional(),
    }),
  expected: expected('ids', 'pollMs', 'timeoutMs'),
};

export const SCHEDULE_LIST: CallSchema<{ upcoming: number }> = {
  build: (z) => z.strictObject({ upcoming: z.number().int().min(0).max(100).default(0) }),
  expected: expected('upcoming'),
};

export const SCHEDULE_PAUSE: CallSchema<{ task: string; note?: string }> = {
  build: (z) => z.strictObject({ task: z.string().min(1).max(500), note: note(z).optional() }),
  expected: expected('task', 'note'),
};

export const SCHEDULE_REF: CallSchema<{ task: string }> = {
  build: (z) => z.strictObject({ task: z.string().min(1).max(500) }),
  expected: expected('task'),
};

export const SCHEDULE_TRIGGER: CallSchema<{ task: string; force: boolean }> = {
  build: (z) => z.strictObject({ task: z.string().min(1).max(500), force: z.boolean().default(false) }),
  expected: expected('task', 'force'),
};

export const LOCKS_CLEAR: CallSchema<{ lock?: string; task?: string }> = {
  build: (z) =>
    z.strictObject({
      lock: z.string().min(1).max(500).optional(),
      task: z.string().min(1).max(500).optional(),
    }),
  expected: expected('lock', 'task'),
};

export const MAINTENANCE_DOWN: CallSchema<{ note?: string }> = {
  build: (z) => z.strictObject({ note: note(z).optional() }),
  expected: expected('note'),
};

export const OPERATION_REF: CallSchema<{ operation: string }> = {
  build: (z) => z.strictObject({ operation: z.string().min(1).max(100) }),
  expected: expected('operation'),
};
