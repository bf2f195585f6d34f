import type { Job, JobState } from '../core/index.ts';

/**
 * The search role of a store: jobs of a queue by filter, paged by a cursor, and how many match.
 * What operators list, and what bulk actions walk. Every engine answers the same filter the same
 * way; only how far one call looks differs (see `FoundJobs.next`).
 */
export interface JobSearch {
  /**
   * Jobs matching the filter, in id order from the cursor. May return fewer than `limit` with a
   * `next` cursor (an engine that bounds the work of one call): keep going until `next` is null.
   */
  findJobs(request: FindJobsRequest): Promise<FoundJobs>;

  /**
   * How many jobs match, counting up to `cap`: `exact` false means at least `count` (the cap was
   * reached, or the engine stopped looking; see each engine).
   */
  countMatching(filter: JobFilter, cap: number): Promise<MatchCount>;

  /**
   * Forgets a queue that holds no jobs: its pause flag goes, and it is no longer listed. False, with
   * nothing changed, while any job of it remains.
   */
  forgetQueue(queue: string): Promise<boolean>;
}

/** Which jobs of one queue: every field given must hold. */
export interface JobFilter {
  queue: string;
  /** Any of these states; absent or empty: any state. */
  states?: readonly JobState[];
  /** The job's name, exactly. */
  name?: string;
  /** Created at or after (epoch ms). */
  createdFrom?: number;
  /** Created before (epoch ms). */
  createdTo?: number;
  /**
   * Found in the stored JSON of the payload or of the last error (its name, message and stack), with
   * ASCII letters matched in either case. Costs a scan of the queue's jobs on every engine.
   */
  text?: string;
}

export interface FindJobsRequest extends JobFilter {
  /** Only jobs past this id in `order` (a `next` from an earlier page); absent: from the start. */
  after?: string | null;
  /** By id: `asc` oldest first, `desc` newest first. */
  order: 'asc' | 'desc';
  limit: number;
}

export interface FoundJobs {
  jobs: Job[];
  /** Where the next page starts, or null when nothing is left to look at. */
  next: string | null;
}

export interface MatchCount {
  count: number;
  exact: boolean;
}

/** Lower-cases ASCII letters only, as SQLite's lower(), Lua's string.lower and the PostgreSQL query do. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** True when the filter narrows by nothing but queue and state (engines can count those fast). */
export function isStateOnly(filter: JobFilter): boolean {
  return (
    filter.name === undefined &&
    filter.createdFrom === undefined &&
    filter.createdTo === undefined &&
    filter.text === undefined
  );
}

/** How the SQL engines write a filter: their placeholders and a case-folding expression. */
export interface SqlDialect {
  /** The placeholder of the n-th parameter (1-based). */
  param(n: number): string;
  /** The expression that folds ASCII letters of `column` to lower case. */
  lower(column: string): string;
  /** The expression true when `needle` (already lower) occurs in `haystack`. */
  contains(haystack: string, needle: string): string;
}

/** A WHERE clause for a filter, with its parameters, for the SQL engines' `jobs` table. */
export function filterSql(
  filter: JobFilter,
  dialect: SqlDialect,
  cursor?: { after: string; order: 'asc' | 'desc' },
): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const next = (value: unknown) => {
    params.push(value);
    return dialect.param(params.length);
  };
  const clauses = [`queue = ${next(filter.queue)}`];
  if (filter.states && filter.states.length > 0)
    clauses.push(`state IN (${filter.states.map((state) => next(state)).join(', ')})`);
  if (filter.name !== undefined) clauses.push(`name = ${next(filter.name)}`);
  if (filter.createdFrom !== undefined) clauses.push(`created_at >= ${next(filter.createdFrom)}`);
  if (filter.createdTo !== undefined) clauses.push(`created_at < ${next(filter.createdTo)}`);
  if (filter.text !== undefined) {
    const needle = next(asciiLower(filter.text));
    clauses.push(
      `(${dialect.contains(dialect.lower('payload'), needle)} OR ${dialect.contains(
        dialect.lower("coalesce(error, '')"),
        needle,
      )})`,
    );
  }
  if (cursor) clauses.push(`id ${cursor.order === 'desc' ? '<' : '>'} ${next(Number(cursor.after))}`);
  return { where: clauses.join(' AND '), params };
}
