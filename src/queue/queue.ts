import {
  checkName,
  FINISHED_STATES,
  InvalidJobStateError,
  InvalidOptionError,
  isJobState,
  type Job,
  JobNotFoundError,
  type JobState,
  MAX_RUN_AT,
  SundialError,
  toJson,
} from '../core/index.ts';
import type { NewJob, TransitionResult } from '../store/index.ts';
import type { SundialContext } from './context.ts';
import { DEFAULT_JOB_OPTIONS, type JobOptions, parseJobOptions, toBackoffSpec } from './options.ts';

export interface QueueOptions {
  /** Options every job added through this queue starts from; per-add options win. */
  defaults?: JobOptions;
}

export interface BulkJob<Payload = unknown> {
  name: string;
  payload?: Payload;
  options?: JobOptions;
}

export interface ListOptions {
  offset?: number;
  limit?: number;
  /** By id: `asc` (oldest first, the default) or `desc`. */
  order?: 'asc' | 'desc';
}

/** What an operator can do to a job, one at a time or by filter. */
export type JobAction = 'retry' | 'cancel' | 'remove' | 'promote';

/** The states each action applies to; a job in any other state is left as it is. */
export const ACTION_STATES: Readonly<Record<JobAction, readonly JobState[]>> = {
  retry: ['failed', 'dead', 'cancelled'],
  cancel: ['waiting', 'delayed', 'failed', 'active'],
  remove: ['waiting', 'delayed', 'failed', ...FINISHED_STATES],
  promote: ['delayed'],
};

/**
 * A named queue: where jobs are added and managed. Get one with `sundial.queue(name)`.
 *
 * @example
 * const emails = sundial.queue('emails');
 * await emails.add('welcome', { userId: 42 }, { attempts: 5, backoff: 'exponential' });
 */
export class Queue {
  readonly name: string;
  private readonly defaults: JobOptions;
  private readonly context: SundialContext;

  constructor(name: string, context: SundialContext, options: QueueOptions = {}) {
    this.context = context;
    this.name = checkName('queue', name);
    this.defaults = parseJobOptions(options.defaults, 'defaults');
    for (const key of ['runAt', 'dedupeKey'] as const) {
      if (this.defaults[key] !== undefined) {
        throw new InvalidOptionError(
          `defaults.${key}`,
          this.defaults[key],
          'set per job, not as a queue default',
        );
      }
    }
  }

  /** Adds one job. Adds made in the same event-loop turn share one store transaction. */
  async add<Payload>(name: string, payload?: Payload, options?: JobOptions): Promise<Job<Payload>> {
    const job = this.prepare(name, payload, options, '');
    const added = await this.context.addBatcher.push(job);
    if (!added.duplicate) return this.created(job, added.id, payload) as Job<Payload>;
    return this.holderOf<Payload>(added.id, () => this.add(name, payload, options));
  }

  /**
   * Adds many jobs in one transaction. Every job is checked first: one bad job refuses the whole
   * batch and stores nothing.
   */
  async addBulk<Payload>(jobs: readonly BulkJob<Payload>[]): Promise<Job<Payload>[]> {
    if (!Array.isArray(jobs))
      throw new InvalidOptionError('jobs', jobs, 'an array of { name, payload?, options? }');
    const prepared = jobs.map((entry, i) => {
      if (typeof entry !== 'object' || entry === null) {
        throw new InvalidOptionError(`jobs[${i}]`, entry, 'an object { name, payload?, options? }');
      }
      return this.prepare(entry.name, entry.payload, entry.options, `jobs[${i}].`);
    });
    if (prepared.length === 0) return [];
    const added = await this.context.store.addJobs(prepared);
    // Built without a read for every new job; only duplicates are looked up.
    return Promise.all(
      added.map((entry, i) => {
        const { name, payload, options } = jobs[i]!;
        if (!entry.duplicate) return this.created(prepared[i]!, entry.id, payload) as Job<Payload>;
        return this.holderOf<Payload>(entry.id, () => this.add(name, payload, options));
      }),
    );
  }

  /** Stops workers from claiming this queue's jobs (jobs already running finish). */
  async pause(): Promise<void> {
    await this.context.store.setQueuePaused(this.name, true);
  }

  async resume(): Promise<void> {
    await this.context.store.setQueuePaused(this.name, false);
  }

  async isPaused(): Promise<boolean> {
    return this.context.store.isQueuePaused(this.name);
  }

  /** How many jobs are in each state. */
  async counts(): Promise<Record<JobState, number>> {
    return this.context.store.countJobs(this.name);
  }

  /** The job, or null when no job of this queue has that id. */
  async getJob(id: string): Promise<Job | null> {
    const job = await this.context.store.getJob(String(id));
    return job && job.queue === this.name ? job : null;
  }

  /** Jobs of this queue, optionally in one state, a page at a time. */
  async listJobs(state?: JobState, options: ListOptions = {}): Promise<Job[]> {
    if (state !== undefined && !isJobState(state)) {
      throw new InvalidOptionError(
        'state',
        state,
        'one of waiting, delayed, active, failed, completed, dead, cancelled',
      );
    }
    const limit = options.limit ?? 50;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidOptionError('limit', limit, 'a whole number from 1 to 1000');
    }
    if (!Number.isInteger(offset) || offset < 0)
      throw new InvalidOptionError('offset', offset, 'a whole number, 0 or more');
    if (options.order !== undefined && options.order !== 'asc' && options.order !== 'desc') {
      throw new InvalidOptionError('order', options.order, "'asc' or 'desc'");
    }
    return this.context.store.listJobs({ queue: this.name, state, limit, offset, order: options.order });
  }

  /** Runs a failed, dead or cancelled job again now, with a fresh budget of attempts. */
  retry(id: string): Promise<Job> {
    return this.act('retry', id);
  }

  /**
   * Cancels a job that has not finished. A running job's worker is told at once (through the store's
   * cancel notification) and aborts the run; its outcome is not stored.
   */
  cancel(id: string): Promise<Job> {
    return this.act('cancel', id);
  }

  /** Deletes a job that is not active (cancel an active job first). */
  remove(id: string): Promise<Job> {
    return this.act('remove', id);
  }

  /** Makes a delayed job waiting now, as if its delay had ended. */
  promote(id: string): Promise<Job> {
    return this.act('promote', id);
  }

  /**
   * Applies an action to one job of this queue and reports what happened, refusals included,
   * without throwing: bulk actions count them.
   */
  apply(action: JobAction, id: string): Promise<TransitionResult> {
    const request = { queue: this.name, from: ACTION_STATES[action], now: this.context.clock.now() };
    switch (action) {
      case 'retry':
      case 'promote':
        return this.context.store.retryJob(String(id), request);
      case 'cancel':
        return this.context.store.cancelJob(String(id), request);
      case 'remove':
        return this.context.store.removeJob(String(id), request);
    }
  }

  private async act(action: JobAction, id: string): Promise<Job> {
    return this.expectTransition(String(id), await this.apply(action, id), action, ACTION_STATES[action]);
  }

  /**
   * Deletes jobs that finished more than `olderThan` ms ago; by default only completed ones.
   * Returns how many were deleted.
   */
  async prune(options: { olderThan: number; states?: readonly JobState[] }): Promise<number> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', options, 'an object like { olderThan: ms, states?: [...] }');
    }
    const { olderThan } = options;
    if (!Number.isInteger(olderThan) || olderThan < 0) {
      throw new InvalidOptionError('olderThan', olderThan, 'a whole number of milliseconds, 0 or more');
    }
    const states = options.states ?? ['completed'];
    if (!Array.isArray(states)) throw new InvalidOptionError('states', states, 'an array of finished states');
    for (const state of states) {
      if (!(FINISHED_STATES as readonly string[]).includes(state)) {
        throw new InvalidOptionError('states', state, `finished states only: ${FINISHED_STATES.join(', ')}`);
      }
    }
    return this.context.store.pruneJobs({
      queue: this.name,
      states,
      finishedBefore: this.context.clock.now() - olderThan,
    });
  }

  /**
   * The record `add` would store, checked but not stored: for callers that store it themselves
   * with something else in one transaction (the scheduler adds a fire's job with its
   * compare-and-set).
   */
  build(name: string, payload?: unknown, options?: JobOptions): NewJob {
    return this.prepare(name, payload, options, '');
  }

  private prepare(name: unknown, payload: unknown, rawOptions: unknown, prefix: string): NewJob {
    const handler = checkName(`${prefix}name`, name);
    const options = parseJobOptions(rawOptions, `${prefix}options`);
    const now = this.context.clock.now();
    const merged = rawOptions === undefined ? this.defaults : { ...this.defaults, ...options };
    let runAt = now;
    if (options.runAt !== undefined) runAt = +options.runAt;
    else if (merged.delay !== undefined) {
      runAt = now + merged.delay;
      if (runAt > MAX_RUN_AT) {
        const field = options.delay !== undefined ? `${prefix}options.delay` : 'defaults.delay';
        throw new InvalidOptionError(
          field,
          merged.delay,
          'a delay that ends by +275760-09-13, the latest valid date',
        );
      }
    }
    return {
      queue: this.name,
      name: handler,
      payload: toJson(payload, `${prefix}payload`),
      state: runAt > now ? 'delayed' : 'waiting',
      priority: merged.priority ?? DEFAULT_JOB_OPTIONS.priority,
      runAt,
      maxAttempts: merged.attempts ?? DEFAULT_JOB_OPTIONS.attempts,
      backoff: toBackoffSpec(merged.backoff, DEFAULT_JOB_OPTIONS.backoff),
      timeout: merged.timeout ?? null,
      dedupeKey: merged.dedupeKey ?? null,
      maxStalls: merged.maxStalls ?? DEFAULT_JOB_OPTIONS.maxStalls,
      origin: null,
      createdAt: now,
    };
  }

  /**
   * The live job that held the dedupe key. Should it have finished and been removed since the add
   * saw it, the key is free again and the add is made once more.
   */
  private async holderOf<Payload>(id: string, addAgain: () => Promise<Job<Payload>>): Promise<Job<Payload>> {
    const holder = await this.context.store.getJob(id);
    return holder ? (holder as Job<Payload>) : addAgain();
  }

  /** The job just stored, as the store would read it back. */
  private created(job: NewJob, id: string, payload: unknown): Job {
    const created: Job = {
      id,
      queue: job.queue,
      name: job.name,
      payload: payload ?? null,
      state: job.state,
      priority: job.priority,
      runAt: job.runAt,
      attempt: 0,
      maxAttempts: job.maxAttempts,
      failures: 0,
      backoff: job.backoff,
      timeout: job.timeout,
      dedupeKey: job.dedupeKey,
      stalls: 0,
      maxStalls: job.maxStalls,
      leaseOwner: null,
      leaseExpiresAt: null,
      result: null,
      error: null,
      deadLetter: null,
      history: [],
      origin: job.origin === null ? null : JSON.parse(job.origin),
      createdAt: job.createdAt,
      startedAt: null,
      finishedAt: null,
    };
    this.context.events.emit('job.added', { job: created });
    return created;
  }

  private expectTransition(
    id: string,
    result: TransitionResult,
    operation: string,
    allowed: readonly JobState[],
  ): Job {
    if (result.ok) return result.job;
    switch (result.reason) {
      case 'not_found':
        throw new JobNotFoundError(id);
      case 'state':
        throw new InvalidJobStateError(id, result.state, operation, allowed);
      case 'duplicate':
        throw new SundialError(
          'SUNDIAL_DUPLICATE',
          `Cannot ${operation} job ${id}: job ${result.holder} holds the same dedupe key and has not finished`,
        );
    }
  }
}
