import {
  FINISHED_STATES,
  InvalidJobStateError,
  InvalidOptionError,
  type Job,
  JobNotFoundError,
  type JobState,
  SundialError,
} from '../core/index.ts';
import { ACTION_STATES, type JobAction } from '../queue/index.ts';
import type { JobFilter, MatchCount } from '../store/index.ts';
import type { AdminContext } from './context.ts';
import type { OperationInfo, Progress } from './operations.ts';
import {
  BULK,
  DLQ_BULK,
  DLQ_LIST,
  JOB_REF,
  type JobFilterInput,
  LIST_JOBS,
  PRUNE,
  WAIT_FOR_JOBS,
} from './schemas.ts';
import { parseInput } from './validate.ts';

/** One page of a listing: the jobs, where the next page starts, and how many match in all. */
export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; null when there is none. */
  next: string | null;
  /** Matches in all, counted up to the call's `countCap` (`exact` false: at least that many). */
  total: MatchCount;
}

/** What a dry run of a bulk action answers: how many jobs it would touch. */
export interface DryRun {
  dryRun: true;
  count: number;
  exact: boolean;
}

/** How many jobs a bulk action reads per page, and acts on at once. */
const BULK_PAGE = 500;
const BULK_CONCURRENCY = 32;
/** A bulk action without a limit counts its total up to this. */
const BULK_COUNT_CAP = 10_000_000;

/**
 * Jobs as operators see them: listed by filter, one by id, acted on one at a time or by filter
 * (`bulk`, an operation followed by id). Every input is checked by its schema first.
 */
export class JobsAdmin {
  private readonly context: AdminContext;

  constructor(context: AdminContext) {
    this.context = context;
  }

  /** Jobs of a queue by filter, newest first by default, a page at a time. */
  async list(input: unknown): Promise<JobPage> {
    const { cursor, limit, order, countCap, ...filter } = parseInput(LIST_JOBS, input);
    return this.page(this.checkedFilter(filter), { cursor, limit, order, countCap });
  }

  /** One job with every attempt it made (its `history`). */
  async get(input: unknown): Promise<Job> {
    const { queue, id } = parseInput(JOB_REF, input);
    const job = await this.context.queue(queue).getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  retry(input: unknown): Promise<Job> {
    return this.one('retry', input);
  }

  cancel(input: unknown): Promise<Job> {
    return this.one('cancel', input);
  }

  remove(input: unknown): Promise<Job> {
    return this.one('remove', input);
  }

  promote(input: unknown): Promise<Job> {
    return this.one('promote', input);
  }

  /**
   * An action on every job matching a filter (only jobs in the states the action applies to; a
   * filter naming other states is refused). A dry run answers how many it would touch; otherwise
   * it starts an operation and returns it at once (follow it with `operations.wait`).
   */
  async bulk(input: unknown): Promise<DryRun | OperationInfo> {
    const { action, filter: given, limit, dryRun } = parseInput(BULK, input);
    const filter = this.actionFilter(action, this.checkedFilter(given, 'filter.'), 'filter.states');
    return this.runBulk(action, action, filter, limit, dryRun);
  }

  /** Deletes finished jobs older than `olderThan` ms (by default completed ones); how many. */
  async prune(input: unknown): Promise<{ deleted: number }> {
    const { queue, olderThan, states } = parseInput(PRUNE, input);
    return { deleted: await this.context.queue(queue).prune({ olderThan, states }) };
  }

  /**
   * Waits until every job has finished (completed, dead or cancelled), looking every `pollMs`;
   * resolves with them in the order given. With `timeoutMs`, gives up after that long.
   */
  async waitUntilFinished(input: unknown): Promise<Job[]> {
    const { ids, pollMs, timeoutMs } = parseInput(WAIT_FOR_JOBS, input);
    const finished = new Map<string, Job>();
    const started = performance.now();
    for (;;) {
      for (const id of ids) {
        if (finished.has(id)) continue;
        const job = await this.context.store.getJob(id);
        if (!job) throw new JobNotFoundError(id);
        if ((FINISHED_STATES as readonly string[]).includes(job.state)) finished.set(id, job);
      }
      if (finished.size === ids.length) return ids.map((id) => finished.get(id)!);
      if (timeoutMs !== undefined && performance.now() - started >= timeoutMs) {
        throw new SundialError(
          'SUNDIAL_TIMEOUT',
          `${ids.length - finished.size} of ${ids.length} jobs had not finished after ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** The filter the page and bulk calls share, checked where the schema cannot (a time range's order). */
  checkedFilter(input: JobFilterInput, prefix = ''): JobFilter {
    if (
      input.createdFrom !== undefined &&
      input.createdTo !== undefined &&
      input.createdTo < input.createdFrom
    ) {
      throw new InvalidOptionError(`${prefix}createdTo`, input.createdTo, 'a time at or after createdFrom');
    }
    return { ...input, states: input.states && [...new Set(input.states)] };
  }

  /** A listing's page with its total. */
  async page(
    filter: JobFilter,
    {
      cursor,
      limit,
      order,
      countCap,
    }: { cursor?: string; limit: number; order: 'asc' | 'desc'; countCap: number },
  ): Promise<JobPage> {
    const [found, total] = await Promise.all([
      this.context.store.findJobs({ ...filter, after: cursor ?? null, order, limit }),
      countCap > 0 ? this.context.store.countMatching(filter, countCap) : { count: 0, exact: false },
    ]);
    return { jobs: found.jobs, next: found.next, total };
  }

  /** The filter narrowed to the states `action` applies to; states it cannot apply to are refused. */
  actionFilter(action: JobAction, filter: JobFilter, field: string): JobFilter {
    const allowed = ACTION_STATES[action];
    if (!filter.states || filter.states.length === 0) return { ...filter, states: allowed };
    for (const state of filter.states) {
      if (!allowed.includes(state)) {
        throw new InvalidOptionError(field, filter.states, `${action} applies to jobs ${allowed.join(', ')}`);
      }
    }
    return filter;
  }

  /** A dry run's count, or the operation that applies `action` to each matching job. */
  async runBulk(
    kind: string,
    action: JobAction,
    filter: JobFilter,
    limit: number | undefined,
    dryRun: boolean,
  ): Promise<DryRun | OperationInfo> {
    const total = await this.context.store.countMatching(filter, limit ?? BULK_COUNT_CAP);
    if (dryRun) return { dryRun: true, ...total };
    return this.context.operations.start(kind, filter.queue, total, async (progress) => {
      await this.applyToMatching(action, filter, limit ?? Number.POSITIVE_INFINITY, progress);
      return null;
    });
  }

  /**
   * Walks the matching jobs oldest first by id (so jobs that change state meanwhile are neither
   * missed nor met twice) and applies the action to each, a page at a time, several at once.
   */
  async applyToMatching(
    action: JobAction,
    filter: JobFilter,
    limit: number,
    progress: Progress,
  ): Promise<number> {
    const queue = this.context.queue(filter.queue);
    let after: string | null = null;
    let looked = 0;
    do {
      const page = await this.context.store.findJobs({
        ...filter,
        after,
        order: 'asc',
        limit: Math.min(BULK_PAGE, limit - looked),
      });
      for (let at = 0; at < page.jobs.length; at += BULK_CONCURRENCY) {
        // Every apply of the chunk ends before the next chunk (or a failure) is reported.
        const results = await Promise.allSettled(
          page.jobs.slice(at, at + BULK_CONCURRENCY).map((job) => queue.apply(action, job.id)),
        );
        for (const result of results) {
          if (result.status === 'rejected') throw result.reason;
          progress.looked(result.value.ok);
        }
        // A turn of the event loop for everything else in this process: on SQLite every call
        // settles at once, and a long operation must not starve a worker's heartbeats.
        await new Promise((resolve) => setImmediate(resolve));
      }
      looked += page.jobs.length;
      after = page.next;
    } while (after !== null && looked < limit);
    return looked;
  }

  private async one(action: JobAction, input: unknown): Promise<Job> {
    const { queue, id } = parseInput(JOB_REF, input);
    return this.context.queue(queue)[action](id);
  }
}

/** The dead-letter queue: the jobs of a queue that are dead, to look at, retry or purge. */
export class DeadLettersAdmin {
  private readonly jobs: JobsAdmin;

  constructor(jobs: JobsAdmin) {
    this.jobs = jobs;
  }

  async list(input: unknown): Promise<JobPage> {
    const { cursor, limit, order, countCap, ...filter } = parseInput(DLQ_LIST, input);
    return this.jobs.page(this.deadOnly(filter), { cursor, limit, order, countCap });
  }

  /** One dead job; a job of the queue in any other state is refused, naming its state. */
  async show(input: unknown): Promise<Job> {
    const job = await this.jobs.get(input);
    if (job.state !== 'dead')
      throw new InvalidJobStateError(job.id, job.state, 'show as a dead letter', ['dead']);
    return job;
  }

  /** Runs one dead job again now. */
  async retry(input: unknown): Promise<Job> {
    await this.show(input);
    return this.jobs.retry(input);
  }

  /** Runs every dead job matching the filter again (a dry run counts them). */
  async retryAll(input: unknown): Promise<DryRun | OperationInfo> {
    const { limit, dryRun, ...filter } = parseInput(DLQ_BULK, input);
    return this.jobs.runBulk('retry', 'retry', this.deadOnly(filter), limit, dryRun);
  }

  /** Deletes every dead job matching the filter (a dry run counts them). */
  async purge(input: unknown): Promise<DryRun | OperationInfo> {
    const { limit, dryRun, ...filter } = parseInput(DLQ_BULK, input);
    return this.jobs.runBulk('purge', 'remove', this.deadOnly(filter), limit, dryRun);
  }

  private deadOnly(filter: Omit<JobFilterInput, 'states'>): JobFilter {
    const dead: JobState[] = ['dead'];
    return this.jobs.checkedFilter({ ...filter, states: dead });
  }
}
