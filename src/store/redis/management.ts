import { JOB_STATES, type Job, type JobState } from '../../core/index.ts';
import {
  asciiLower,
  type FindJobsRequest,
  type FoundJobs,
  isStateOnly,
  type JobFilter,
  type JobSearch,
  type MatchCount,
} from '../job-search.ts';
import type {
  JobManagement,
  ListJobsRequest,
  QueueSettings,
  TransitionRequest,
  TransitionResult,
} from '../store.ts';
import type { RedisContext } from './context.ts';
import { type FlatHash, jobFromHash, nullable } from './jobs.ts';
import { queueBase } from './keys.ts';

/** Jobs deleted per script when pruning, so Redis is never busy with one prune for long. */
const PRUNE_CHUNK = 1000;

/** How many jobs one look of a search examines: a few milliseconds of Redis's time at most. */
const SEARCH_BUDGET = 1000;
/** How many looks one `findJobs` page takes before it returns what it found with its cursor. */
const SEARCH_LOOKS_PER_PAGE = 20;
/**
 * A count looks at more per call (it sends no jobs back), up to a ceiling past which it says "at
 * least": a total of a filter Redis has no index for costs some 20 calls at most, not 200.
 */
const COUNT_BUDGET = 5000;
const COUNT_MAX_LOOKED = 100_000;

/** Jobs one at a time, queue settings and searches: the Redis engine's `JobManagement`, `QueueSettings` and `JobSearch` roles. */
export class RedisJobManagement implements JobManagement, QueueSettings, JobSearch {
  private readonly redis: RedisContext;

  constructor(context: RedisContext) {
    this.redis = context;
  }

  async getJob(id: string): Promise<Job | null> {
    this.redis.check();
    // Ids are the counter's integers; '1.0' or ' 1' must not find job 1.
    if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
    let base = this.redis.global;
    if (this.redis.onCluster) {
      const queue = (await this.redis.jobQueues.of([id])).get(id);
      if (queue === undefined) return null;
      base = queueBase(this.redis.prefix, queue);
    }
    const flat = (await this.redis.run('getJob', base, [id])) as FlatHash;
    return flat.length === 0 ? null : jobFromHash(flat);
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    this.redis.check();
    const flat = (await this.redis.run('listJobs', queueBase(this.redis.prefix, request.queue), [
      request.queue,
      request.state ?? '',
      String(request.offset ?? 0),
      String(request.limit ?? 50),
      request.order === 'desc' ? '1' : '0',
    ])) as FlatHash[];
    return flat.map(jobFromHash);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    this.redis.check();
    const counts = (await this.redis.run('countJobs', queueBase(this.redis.prefix, queue), [
      queue,
      ...JOB_STATES,
    ])) as number[];
    return Object.fromEntries(JOB_STATES.map((state, i) => [state, counts[i] ?? 0])) as Record<
      JobState,
      number
    >;
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    this.redis.check();
    return transitionResult(
      await this.redis.run('retryJob', queueBase(this.redis.prefix, request.queue), [
        id,
        request.queue,
        String(request.now),
        ...request.from,
      ]),
    );
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    this.redis.check();
    return transitionResult(
      await this.redis.run('cancelJob', queueBase(this.redis.prefix, request.queue), [
        id,
        request.queue,
        String(request.now),
        ...request.from,
      ]),
    );
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    this.redis.check();
    return transitionResult(
      await this.redis.run('removeJob', queueBase(this.redis.prefix, request.queue), [
        id,
        request.queue,
        ...request.from,
      ]),
    );
  }

  async pruneJobs(request: {
    queue: string;
    states: readonly JobState[];
    finishedBefore: number;
  }): Promise<number> {
    this.redis.check();
    if (request.states.length === 0) return 0;
    let total = 0;
    for (;;) {
      const removed = (await this.redis.run('pruneJobs', queueBase(this.redis.prefix, request.queue), [
        request.queue,
        String(request.finishedBefore),
        String(PRUNE_CHUNK),
        ...request.states,
      ])) as number;
      total += removed;
      if (removed < PRUNE_CHUNK) return total;
    }
  }

  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    this.redis.check();
    // On a Cluster the queue list is in another slot: listed first, so it is never missing a queue.
    if (this.redis.onCluster)
      await this.redis.command(() => this.redis.client.sadd(`${this.redis.global}:queues`, queue));
    await this.redis.run('setQueuePaused', queueBase(this.redis.prefix, queue), [queue, paused ? '1' : '0']);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    this.redis.check();
    return (
      (await this.redis.command(() =>
        this.redis.client.get(`${queueBase(this.redis.prefix, queue)}:paused`),
      )) === '1'
    );
  }

  async listQueues(): Promise<string[]> {
    this.redis.check();
    return byBytes(await this.redis.command(() => this.redis.client.smembers(`${this.redis.global}:queues`)));
  }

  async findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    this.redis.check();
    const jobs: Job[] = [];
    let after = request.after ?? '';
    // A few bounded looks fill most pages; a rare match over a large queue returns a short page
    // with its cursor rather than holding the caller (or Redis) for long.
    for (let look = 0; look < SEARCH_LOOKS_PER_PAGE; look++) {
      const { cursor, found } = await this.search(
        request,
        after,
        request.limit - jobs.length,
        SEARCH_BUDGET,
        false,
      );
      jobs.push(...found.map(jobFromHash));
      if (cursor === '' || jobs.length >= request.limit) return { jobs, next: cursor || null };
      after = cursor;
    }
    return { jobs, next: after };
  }

  async countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    this.redis.check();
    if (isStateOnly(filter)) {
      const counts = await this.countJobs(filter.queue);
      const states = filter.states?.length ? filter.states : JOB_STATES;
      const count = states.reduce((sum, state) => sum + counts[state], 0);
      return count > cap ? { count: cap, exact: false } : { count, exact: true };
    }
    let count = 0;
    let after = '';
    for (let looked = 0; looked < COUNT_MAX_LOOKED; looked += COUNT_BUDGET) {
      const step = await this.search(filter, after, cap + 1 - count, COUNT_BUDGET, true);
      count += step.count;
      if (count > cap) return { count: cap, exact: false };
      if (step.cursor === '') return { count, exact: true };
      after = step.cursor;
    }
    return { count, exact: false };
  }

  async forgetQueue(queue: string): Promise<boolean> {
    this.redis.check();
    const forgotten =
      (await this.redis.run('forgetQueue', queueBase(this.redis.prefix, queue), [queue])) === 1;
    // On a Cluster the list is in another slot: taken off after. Unlike a queue emptied by its jobs
    // finishing, which stays listed there (library.lua's forgetQueueIfEmpty), this one was forgotten
    // on purpose (obliterate): an add racing it lists the queue before it inserts, so at worst that
    // queue is unlisted until its next add lists it again.
    if (forgotten && this.redis.onCluster)
      await this.redis.command(() => this.redis.client.srem(`${this.redis.global}:queues`, queue));
    return forgotten;
  }

  /** One bounded look of the `findJobs` script (lua/findJobs.lua). */
  private async search(
    filter: JobFilter & { order?: 'asc' | 'desc' },
    after: string,
    limit: number,
    budget: number,
    countOnly: boolean,
  ): Promise<{ cursor: string; count: number; found: FlatHash[] }> {
    const states = filter.states ?? [];
    const [cursor, count, found] = (await this.redis.run(
      'findJobs',
      queueBase(this.redis.prefix, filter.queue),
      [
        filter.queue,
        states.join(','),
        after,
        filter.order === 'desc' ? '1' : '0',
        String(limit),
        String(budget),
        nullable(filter.name ?? null),
        nullable(filter.createdFrom ?? null),
        nullable(filter.createdTo ?? null),
        nullable(filter.text === undefined ? null : asciiLower(filter.text)),
        countOnly ? '1' : '0',
      ],
    )) as [string, number, FlatHash[]];
    return { cursor, count, found };
  }
}

function transitionResult(reply: unknown): TransitionResult {
  const [kind, value] = reply as [string, unknown];
  switch (kind) {
    case 'ok':
      return { ok: true, job: jobFromHash(value as FlatHash) };
    case 'state':
      return { ok: false, reason: 'state', state: value as JobState };
    case 'duplicate':
      return { ok: false, reason: 'duplicate', holder: String(value) };
    default:
      return { ok: false, reason: 'not_found' };
  }
}

/** Sorted as Redis (and SQLite) compare names: by their UTF-8 bytes. */
function byBytes(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
