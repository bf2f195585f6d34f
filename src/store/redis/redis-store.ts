import { randomUUID } from 'node:crypto';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import {
  InvalidOptionError,
  JOB_STATES,
  type Job,
  type JobState,
  StoreClosedError,
  StoreUnavailableError,
  SundialError,
} from '../../core/index.ts';
import { ioredisDriver } from '../drivers.ts';
import {
  asciiLower,
  type FindJobsRequest,
  type FoundJobs,
  isStateOnly,
  type JobFilter,
  type MatchCount,
} from '../job-search.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  type ClaimRequest,
  type FinishAndClaimResult,
  type FireScheduleRequest,
  type Handoff,
  type HeldLease,
  type JobOutcome,
  type ListJobsRequest,
  type LockOwner,
  type LockRecord,
  type NewJob,
  type OwnedJobs,
  RECONNECTS_CHANNEL,
  type RecoverStalledRequest,
  type ScheduleRecord,
  type ScheduleSync,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
  type TransitionRequest,
  type TransitionResult,
} from '../store.ts';
import {
  addedJobs,
  addJobsOnCluster,
  finishAndClaimOnCluster,
  firedEntries,
  fireScheduleOnCluster,
  JobQueues,
  latestRunsOnCluster,
  perQueue,
} from './cluster.ts';
import { FirstConnection } from './first-connection.ts';
import { RedisHandoff } from './handoff.ts';
import { type FlatHash, fields, jobFromHash, nullable, pushJobArgs } from './jobs.ts';
import { globalBase, queueBase } from './keys.ts';
import { finishAndClaimScript, type ScriptRunner } from './runner.ts';
import { type ScriptName, type Scripts, scriptsFor } from './scripts.ts';
import { checkDurability, type DurabilityCheck } from './server-check.ts';
import { Wakeups } from './wakeups.ts';

export { AT_RISK_CODE, type DurabilityCheck, durabilityWarning, UNCHECKED_CODE } from './server-check.ts';

/** How many jobs one look of a search examines: a few milliseconds of Redis's time at most. */
const SEARCH_BUDGET = 1000;
/** How many looks one `findJobs` page takes before it returns what it found with its cursor. */
const SEARCH_LOOKS_PER_PAGE = 20;
/** A count looks at more per call (it sends no jobs back), up to a ceiling past which it says "at least". */
const COUNT_BUDGET = 5000;
const COUNT_MAX_LOOKED = 1_000_000;

export interface RedisStoreOptions {
  /** Where Redis is, e.g. `redis://user:secret@host:6379/0`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * A Redis Cluster instead: some of its nodes, e.g. `['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379']`
   * (the others are found from them). Each queue's keys live in one slot, so queues spread over the
   * primaries. Not together with `url`.
   */
  cluster?: string[];
  /**
   * More ioredis connection options (TLS, Sentinel, timeouts, retry strategy). Values in `url` win
   * over the same ones here. Two connections are made: one for commands, one for wake-ups.
   */
  client?: RedisOptions;
  /**
   * Starts every key (`{prefix}:…`, `{prefix:queue}:…`) and pub/sub channel, so several apps can
   * share one Redis. Default `sundial`.
   */
  prefix?: string;
  /** Called with errors that cannot be thrown to a caller (a lost connection, the durability warning). */
  onError?: (error: unknown) => void;
  /** Direct handoff of new jobs to idle workers (see the README); never on a Cluster. Default true. */
  handoff?: boolean;
}

export const DEFAULT_REDIS_PREFIX = 'sundial';

/**
 * The key layout this code writes (see keys.ts); a store at a newer one is refused. 2: a new job's
 * hash leaves out its zero counts and empty history, which version 1 wrote and cannot do without.
 */
const LAYOUT_VERSION = 2;

/** Jobs deleted per script when pruning, so Redis is never busy with one prune for long. */
const PRUNE_CHUNK = 1000;

/**
 * The Redis engine: every state change is one Lua script (scripts.ts), so it is one atomic step
 * however many processes share the Redis; wake-ups go through pub/sub (wakeups.ts). On a Redis
 * Cluster, changes that span a queue and the global keys take a few single-slot steps instead
 * (cluster.ts; keys.ts has the layout). Warns at `init()` when the server may evict or forget keys.
 *
 * @example
 * ```ts
 * const sundial = createSundial({ store: new RedisStore({ url: 'redis://127.0.0.1:6379' }) });
 * ```
 */
export class RedisStore implements Store, ScriptRunner {
  readonly engine = 'redis';
  readonly pipelineDepth = 2;
  readonly addBatchParts = 2;
  readonly prefix: string;
  /** What `init()` found about eviction and persistence; null before it ran. */
  durability: DurabilityCheck | null = null;
  /** On a Cluster: see cluster.ts for how its changes differ. */
  private readonly onCluster: boolean;
  /** Jobs handed from adds straight to idle workers (see handoff.ts); not on a Cluster. */
  readonly handoff: Handoff | undefined;
  private readonly scripts: Scripts;
  private readonly client: Redis | Cluster;
  private readonly subscriber: Redis | Cluster;
  private readonly wakeups: Wakeups;
  /** On a Cluster, where the jobs are that this instance works on by id (see cluster.ts). */
  private readonly jobQueues = new JobQueues((ids) =>
    this.command(() => this.client.hmget(`${this.global}:jobs`, ...ids)),
  );
  /** Sent with every wake-up this instance publishes, so it can skip its own echoes. */
  private readonly origin = randomUUID();
  private readonly options: RedisStoreOptions;
  private initialising: Promise<void> | null = null;
  private initialised = false;
  private readonly firstConnection: FirstConnection;
  private closed = false;

  constructor(options: RedisStoreOptions = {}) {
    checkOptions(options);
    this.options = options;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    const connection: RedisOptions = {
      connectionName: `sundial:${this.prefix}`,
      // ioredis's default, on purpose: a command whose reply was lost with the connection is sent
      // again once it is back (turned off, its promise stays pending for ever). A script that did
      // run before the cut then runs twice: at least once, like everything else here. A finish or a
      // compare-and-set run twice refuses the second time; an add run twice adds the job twice.
      autoResendUnfulfilledCommands: true,
      ...options.client,
      // Connect on first use, so a store can be made (and handed around) before Redis is up.
      lazyConnect: true,
    };
    const subscriberConnection: RedisOptions = {
      connectionName: `${connection.connectionName}:wake`,
      // Subscribing waits for as long as it takes; nothing is lost by waiting.
      maxRetriesPerRequest: null,
    };
    const { Redis: Client, Cluster: ClusterClient } = ioredisDriver();
    this.onCluster = options.cluster !== undefined;
    this.scripts = scriptsFor(this.onCluster);
    if (options.cluster) {
      const nodes = options.cluster.map(clusterNode);
      const { lazyConnect, ...redisOptions } = {
        ...connection,
        ...credentials(options.cluster[0]!, connection),
      };
      this.client = new ClusterClient(nodes, { redisOptions, lazyConnect });
      this.subscriber = this.client.duplicate(nodes, {
        redisOptions: { ...redisOptions, ...subscriberConnection },
        lazyConnect,
      });
    } else {
      this.client = options.url ? new Client(options.url, connection) : new Client(connection);
      this.subscriber = this.client.duplicate(subscriberConnection);
    }
    const onError = (error: unknown) => {
      if (!this.closed) this.options.onError?.(error);
    };
    // ioredis reports connection trouble as events (and reconnects by itself): without a listener it
    // would print them; commands that fail meanwhile reject to their callers anyway.
    this.client.on('error', onError);
    this.subscriber.on('error', onError);
    this.firstConnection = new FirstConnection(
      this.client,
      options.cluster
        ? options.cluster.map((url) => addressOf(url)).join(', ')
        : addressOf(options.url, options.client),
    );
    this.wakeups = new Wakeups(this.subscriber, this.prefix, this.origin, onError);
    // A command whose answer was lost with the connection is sent again once it is back, and only
    // the second answer is heard: workers then look for claims of theirs that they never heard of.
    let connectedBefore = false;
    this.client.on('ready', () => {
      if (connectedBefore) this.wakeups.wakeLocal([RECONNECTS_CHANNEL]);
      connectedBefore = true;
    });
    this.handoff =
      this.onCluster || options.handoff === false
        ? undefined
        : new RedisHandoff(this.subscriber as Redis, this, onError);
  }

  /**
   * Checks the layout version (a newer Sundial's layout is refused) and, once, the server's eviction
   * policy and persistence. Safe to call from many processes at once; idempotent.
   */
  async init(): Promise<void> {
    this.check();
    this.initialising ??= this.initialise().catch((error: unknown) => {
      this.initialising = null; // let a later call try again (Redis may have been down)
      throw error;
    });
    await this.initialising;
  }

  private async initialise(): Promise<void> {
    await this.firstConnection.reach();
    const stored = Number(await this.runScript('init', this.global, [String(LAYOUT_VERSION)]));
    if (stored > LAYOUT_VERSION) {
      throw new SundialError(
        'SUNDIAL_SCHEMA_TOO_NEW',
        `The Redis store "${this.prefix}" is at layout version ${stored}, newer than this Sundial knows ` +
          `(${LAYOUT_VERSION}): upgrade Sundial`,
      );
    }
    // Listening before init returns: nothing published after it can go unheard (see wakeups.ts).
    await this.wakeups.start();
    this.durability = await this.call(() => this.checkDurability());
    const warning = this.durability.warning;
    if (warning) {
      if (this.options.onError) this.options.onError(warning);
      else process.emitWarning(warning.message, { code: warning.code });
    }
    this.initialised = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeups.close();
    await Promise.all([disconnect(this.client), disconnect(this.subscriber)]);
  }

  async addJobs(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    this.check();
    if (jobs.length === 0) return [];
    if (this.onCluster) return addJobsOnCluster(this, jobs);
    const args: string[] = [];
    for (const job of jobs) pushJobArgs(args, job);
    return addedJobs(await this.run('addJobs', this.global, args));
  }

  async claimJobs(request: ClaimRequest): Promise<Job[]> {
    return (await this.finishAndClaim([], request)).jobs;
  }

  async finishJobs(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    return (await this.finishAndClaim(outcomes, null)).applied;
  }

  async finishAndClaim(
    outcomes: readonly JobOutcome[],
    claim: ClaimRequest | null,
  ): Promise<FinishAndClaimResult> {
    this.check();
    if (outcomes.length === 0 && !claim) return { applied: [], jobs: [] };
    // An offer is kept only where this store hands jobs (not on a Cluster, not turned off).
    if (claim?.offerUntil !== undefined && !this.handoff) {
      const { offerUntil: _, offerStands: __, ...plain } = claim;
      claim = plain;
    }
    if (this.onCluster) return finishAndClaimOnCluster(this, this.jobQueues, outcomes, claim);
    return finishAndClaimScript(this, this.global, outcomes, claim);
  }

  async renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]> {
    this.check();
    if (leases.length === 0) return [];
    const renew = async (base: string, some: readonly HeldLease[]) => {
      const args = [owner, String(leaseExpiresAt)];
      for (const lease of some) args.push(lease.id, String(lease.attempt));
      return (await this.run('renewLeases', base, args)) as string[];
    };
    if (!this.onCluster) return renew(this.global, leases);
    const renewed = (await perQueue(this, this.jobQueues, leases, (lease) => lease.id, renew)).flat();
    // A lease not renewed is lost: its job will not be finished or released from here.
    const kept = new Set(renewed);
    this.jobQueues.forget(leases.map((lease) => lease.id).filter((id) => !kept.has(id)));
    return renewed;
  }

  async releaseOrphans(request: OwnedJobs): Promise<HeldLease[]> {
    this.check();
    const flat = (await this.run('releaseOrphans', queueBase(this.prefix, request.queue), [
      request.queue,
      request.owner,
      String(request.now),
      JSON.stringify(request.held),
    ])) as string[];
    const released: HeldLease[] = [];
    for (let i = 0; i < flat.length; i += 2) released.push({ id: flat[i]!, attempt: Number(flat[i + 1]) });
    return released;
  }

  async releaseJobs(owner: string, ids: readonly string[], now: number): Promise<number> {
    this.check();
    if (ids.length === 0) return 0;
    const release = async (base: string, some: readonly string[]) =>
      (await this.run('releaseJobs', base, [owner, String(now), ...some])) as number;
    if (!this.onCluster) return release(this.global, ids);
    const released = await perQueue(this, this.jobQueues, ids, (id) => id, release);
    this.jobQueues.forget(ids);
    return released.reduce((sum, count) => sum + count, 0);
  }

  async recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]> {
    this.check();
    if (!this.onCluster || request.queue !== undefined) return this.recoverStalledIn(request);
    // A Cluster's scripts reach one queue each; recovered ones first, as from one script.
    const found = await Promise.all(
      (await this.listQueues()).map((queue) => this.recoverStalledIn({ ...request, queue })),
    );
    const stalled = found.flat();
    return [...stalled.filter((job) => job.recovered), ...stalled.filter((job) => !job.recovered)];
  }

  private async recoverStalledIn(request: RecoverStalledRequest): Promise<StalledJob[]> {
    const base = request.queue === undefined ? this.global : queueBase(this.prefix, request.queue);
    const flat = (await this.run('recoverStalled', base, [
      String(request.now),
      nullable(request.queue ?? null),
      nullable(request.exceptOwner ?? null),
      STALLED_ERROR_JSON,
      request.exceptHeld ? JSON.stringify(request.exceptHeld) : '',
    ])) as (string | number)[];
    const stalled: StalledJob[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      stalled.push({
        id: String(flat[i]),
        queue: String(flat[i + 1]),
        name: String(flat[i + 2]),
        recovered: flat[i + 3] === 1,
      });
    }
    return stalled;
  }

  async nextRunAt(queue: string): Promise<number | null> {
    this.check();
    const [, score] = await this.command(() =>
      this.client.zrange(`${queueBase(this.prefix, queue)}:scheduled`, '0', '0', 'WITHSCORES'),
    );
    return score === undefined ? null : Number(score);
  }

  async getJob(id: string): Promise<Job | null> {
    this.check();
    // Ids are the counter's integers; '1.0' or ' 1' must not find job 1.
    if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
    let base = this.global;
    if (this.onCluster) {
      const queue = (await this.jobQueues.of([id])).get(id);
      if (queue === undefined) return null;
      base = queueBase(this.prefix, queue);
    }
    const flat = (await this.run('getJob', base, [id])) as FlatHash;
    return flat.length === 0 ? null : jobFromHash(flat);
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    this.check();
    const flat = (await this.run('listJobs', queueBase(this.prefix, request.queue), [
      request.queue,
      request.state ?? '',
      String(request.offset ?? 0),
      String(request.limit ?? 50),
      request.order === 'desc' ? '1' : '0',
    ])) as FlatHash[];
    return flat.map(jobFromHash);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    this.check();
    const counts = (await this.run('countJobs', queueBase(this.prefix, queue), [
      queue,
      ...JOB_STATES,
    ])) as number[];
    return Object.fromEntries(JOB_STATES.map((state, i) => [state, counts[i] ?? 0])) as Record<
      JobState,
      number
    >;
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    this.check();
    return transitionResult(
      await this.run('retryJob', queueBase(this.prefix, request.queue), [
        id,
        request.queue,
        String(request.now),
        ...request.from,
      ]),
    );
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    this.check();
    return transitionResult(
      await this.run('cancelJob', queueBase(this.prefix, request.queue), [
        id,
        request.queue,
        String(request.now),
        ...request.from,
      ]),
    );
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    this.check();
    return transitionResult(
      await this.run('removeJob', queueBase(this.prefix, request.queue), [
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
    this.check();
    if (request.states.length === 0) return 0;
    let total = 0;
    for (;;) {
      const removed = (await this.run('pruneJobs', queueBase(this.prefix, request.queue), [
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
    this.check();
    // On a Cluster the queue list is in another slot: listed first, so it is never missing a queue.
    if (this.onCluster) await this.command(() => this.client.sadd(`${this.global}:queues`, queue));
    await this.run('setQueuePaused', queueBase(this.prefix, queue), [queue, paused ? '1' : '0']);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    this.check();
    return (await this.command(() => this.client.get(`${queueBase(this.prefix, queue)}:paused`))) === '1';
  }

  async listQueues(): Promise<string[]> {
    this.check();
    return byBytes(await this.command(() => this.client.smembers(`${this.global}:queues`)));
  }

  async findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    this.check();
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
    this.check();
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
    this.check();
    const forgotten = (await this.run('forgetQueue', queueBase(this.prefix, queue), [queue])) === 1;
    // On a Cluster the list is in another slot: taken off after. An add racing this one lists the
    // queue before it inserts, so at worst its queue is unlisted until its next add lists it again.
    if (forgotten && this.onCluster)
      await this.command(() => this.client.srem(`${this.global}:queues`, queue));
    return forgotten;
  }

  /** One bounded look of the `findJobs` script (see search-scripts.ts). */
  private async search(
    filter: JobFilter & { order?: 'asc' | 'desc' },
    after: string,
    limit: number,
    budget: number,
    countOnly: boolean,
  ): Promise<{ cursor: string; count: number; found: FlatHash[] }> {
    const states = filter.states ?? [];
    const [cursor, count, found] = (await this.run('findJobs', queueBase(this.prefix, filter.queue), [
      filter.queue,
      states.length === 1 ? states[0]! : '',
      states.length > 1 ? states.join(',') : '',
      after,
      filter.order === 'desc' ? '1' : '0',
      String(limit),
      String(budget),
      nullable(filter.name ?? null),
      nullable(filter.createdFrom ?? null),
      nullable(filter.createdTo ?? null),
      nullable(filter.text === undefined ? null : asciiLower(filter.text)),
      countOnly ? '1' : '0',
    ])) as [string, number, FlatHash[]];
    return { cursor, count, found };
  }

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    this.check();
    if (entries.length === 0) return;
    const args = [String(now)];
    for (const entry of entries) args.push(entry.id, entry.specHash, nullable(entry.nextRunAt));
    await this.run('syncSchedules', this.global, args);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    this.check();
    if (this.onCluster) return fireScheduleOnCluster(this, request);
    const args = [
      request.id,
      String(request.expectedNextRunAt),
      nullable(request.nextRunAt),
      String(request.firedAt),
      request.whenActive ?? '',
      BUFFERED_KEY_SUFFIX,
    ];
    for (const job of request.jobs) pushJobArgs(args, job);
    const [fired, added] = (await this.run('fireSchedule', this.global, args)) as [
      number,
      [string, number, string][],
    ];
    return { fired: fired === 1, added: firedEntries(added) };
  }

  async nextScheduleRunAt(): Promise<number | null> {
    this.check();
    const [, score] = await this.command(() =>
      this.client.zrange(`${this.global}:schedules-due`, '0', '0', 'WITHSCORES'),
    );
    return score === undefined ? null : Number(score);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.check();
    const rows = (await this.run('listSchedules', this.global, [])) as [string, FlatHash][];
    return rows.map(([id, flat]) => {
      const f = fields(flat);
      return {
        id,
        specHash: f.get('specHash')!,
        nextRunAt: numberOrNull(f.get('nextRunAt')),
        lastRunAt: numberOrNull(f.get('lastRunAt')),
        paused: f.get('paused') === '1',
        note: f.get('note') ?? null,
        updatedAt: Number(f.get('updatedAt')),
      };
    });
  }

  async latestRuns(): Promise<Map<string, Job>> {
    this.check();
    if (this.onCluster) return latestRunsOnCluster(this);
    const rows = (await this.run('latestRuns', this.global, [])) as [string, FlatHash][];
    return new Map(rows.map(([schedule, flat]) => [schedule, jobFromHash(flat)]));
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    this.check();
    const resume = resumeAt === undefined ? '' : `+${nullable(resumeAt)}`;
    const changed = await this.run('setSchedulePaused', this.global, [
      id,
      paused ? '1' : '0',
      nullable(note),
      String(now),
      resume,
    ]);
    return changed === 1;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    this.check();
    const token = (await this.run('acquireLock', this.global, [
      request.name,
      JSON.stringify(request.owner),
      String(request.now),
      String(request.ttlMs),
    ])) as number;
    if (token === 0) return null;
    return {
      name: request.name,
      owner: request.owner,
      token,
      acquiredAt: request.now,
      heartbeatAt: request.now,
      ttlMs: request.ttlMs,
    };
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    this.check();
    return (await this.run('renewLock', this.global, [name, String(token), String(now)])) === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    this.check();
    return (await this.run('releaseLock', this.global, [name, nullable(token ?? null)])) === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    this.check();
    const rows = (await this.run('listLocks', this.global, [])) as [string, FlatHash][];
    return rows.map(([name, flat]) => {
      const f = fields(flat);
      return {
        name,
        owner: JSON.parse(f.get('owner')!) as LockOwner,
        token: Number(f.get('token')),
        acquiredAt: Number(f.get('acquiredAt')),
        heartbeatAt: Number(f.get('heartbeatAt')),
        ttlMs: Number(f.get('ttlMs')),
      };
    });
  }

  async getFlag(name: string): Promise<string | null> {
    this.check();
    return this.command(() => this.client.hget(`${this.global}:flags`, name));
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    this.check();
    await this.run('setFlag', this.global, [name, nullable(value)]);
  }

  subscribe(queue: string, listener: () => void): () => void {
    return this.wakeups.subscribe(queue, listener);
  }

  /**
   * Not for applications: public for the Cluster's steps (cluster.ts) and for tests that reproduce
   * what a step cut short leaves behind.
   *
   * Runs a script as this instance, sent as `base` (a queue's or the global one), and wakes this
   * process's listeners of what it announced (other processes hear it through pub/sub). On a
   * Cluster, then removes the global index entries of the jobs it deleted. Returns its result.
   */
  async run(name: ScriptName, base: string, args: string[]): Promise<unknown> {
    await this.opened();
    return this.runScript(name, base, args);
  }

  /** `run` without opening the store first: for the step that opens it. */
  private async runScript(name: ScriptName, base: string, args: string[]): Promise<unknown> {
    const [announced, result, forgotten] = (await this.call(() =>
      this.scripts.get(name).run(this.client, base, [this.prefix, this.origin, ...args]),
    )) as [string[], unknown, string[]];
    if (announced.length > 0) this.wakeups.wakeLocal(announced);
    if (forgotten.length > 0) {
      // The deletion happened: an index entry left behind only reads as not found, so a failure
      // here is reported, not thrown at a caller whose removal worked.
      await this.run('updateIndex', this.global, ['0', ...forgotten]).catch((error: unknown) => {
        if (!this.closed) this.options.onError?.(error);
      });
    }
    return result;
  }

  /** The base of the global keys. */
  private get global(): string {
    return globalBase(this.prefix);
  }

  /** The durability of the server, or on a Cluster of its first primary found at risk. */
  private async checkDurability(): Promise<DurabilityCheck> {
    if (!this.onCluster) return checkDurability(this.client as Redis);
    const checks = await Promise.all((this.client as Cluster).nodes('master').map(checkDurability));
    return checks.find((check) => check.warning) ?? checks[0]!;
  }

  /**
   * Opens the store on first use, as the other engines do: a process that never calls `init()` still
   * has its layout checked (and raised) before it reads or writes a job, and its wake-ups listened to.
   */
  private async opened(): Promise<void> {
    if (!this.initialised) await this.init();
  }

  /** A command of the open store (see `call`). */
  private async command<T>(work: () => Promise<T>): Promise<T> {
    await this.opened();
    return this.call(work);
  }

  /** Runs a command; connection trouble becomes `StoreUnavailableError` (try again later). */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  private check(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

/**
 * Connection trouble (the connection gone for longer than ioredis retries a command, a server still
 * loading its data, a replica that is not writable yet, a full server) says nothing about the
 * request, so callers hear `StoreUnavailableError` and try it again later, unchanged.
 */
function unavailableOr(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  // The server's own answers that it did not run the command (still loading, busy with a script,
  // a replica, out of memory): nothing was applied. The rest are a connection gone, when it may
  // have been.
  const refused = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM) /.test(
    error.message,
  );
  const trouble =
    refused ||
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    /^(Failed to refresh slots cache|Cluster isn't ready|None of startup nodes is available)/.test(
      error.message,
    ) ||
    /^(Connection is closed|Command timed out|Stream isn't writeable)/.test(error.message) ||
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code));
  return trouble ? new StoreUnavailableError(error, { refused }) : error;
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

function numberOrNull(text: string | undefined): number | null {
  return text === undefined ? null : Number(text);
}

/** Sorted as Redis (and SQLite) compare names: by their UTF-8 bytes. */
function byBytes(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** `host:port` of a URL or of the client options, for messages (never its credentials). */
function addressOf(url: string | undefined, client: RedisOptions = {}): string {
  if (client.path) return client.path;
  if (client.sentinels) return `the Sentinel master ${client.name ?? '(unnamed)'}`;
  if (url === undefined) return `${client.host ?? '127.0.0.1'}:${client.port ?? 6379}`;
  try {
    const { host, port } = clusterNode(url);
    return `${host}:${port}`;
  } catch {
    return 'the address of its url'; // ioredis reads some URLs that WHATWG's parser does not
  }
}

/** A Cluster node's address from its URL (its credentials go to every node: see `credentials`). */
function clusterNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  // An IPv6 literal comes bracketed in a URL ([::1]) and must not be in a socket's host.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: parsed.port === '' ? 6379 : Number(parsed.port) };
}

/**
 * The user and password of a Redis URL, and TLS for `rediss:` (unless `client.tls` says how), as
 * connection options. The URL's win over `client`'s, as with `url`.
 */
function credentials(url: string, connection: RedisOptions): RedisOptions {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' && connection.tls === undefined ? { tls: {} } : {}),
  };
}

/** Says goodbye when connected; otherwise just stops (and stops reconnecting). */
async function disconnect(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // the connection went away while quitting: nothing left to close politely
    }
  }
  client.disconnect();
}

const OPTION_KEYS = ['url', 'cluster', 'client', 'prefix', 'onError', 'handoff'];
// No ':' (it separates the prefix from a queue name in `{prefix:queue}`, so prefixes `a` and `a:b`
// would share key names and patterns), no braces (hash tags), no glob characters (the pub/sub
// pattern), nothing a key or a CLIENT SETNAME would choke on.
const PREFIX = /^[A-Za-z0-9_.@/-]{1,100}$/;

function checkOptions(options: RedisStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('store', options, 'an object of Redis store options');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = `store.${key}`;
    switch (key) {
      case 'url':
        if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) {
          throw new InvalidOptionError(field, value, 'a redis:// or rediss:// URL');
        }
        if (options.cluster !== undefined) {
          throw new InvalidOptionError(
            field,
            value,
            'not together with store.cluster (give the nodes there)',
          );
        }
        break;
      case 'cluster':
        if (!Array.isArray(value) || value.length === 0) {
          throw new InvalidOptionError(field, value, 'a list of redis:// URLs of Cluster nodes');
        }
        value.forEach((url: unknown, i) => {
          if (typeof url !== 'string' || !/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
            throw new InvalidOptionError(
              `${field}[${i}]`,
              url,
              'a redis:// or rediss:// URL of a Cluster node',
            );
          }
          // A Cluster has database 0 only: a URL naming another would silently mean 0.
          if (!['', '/', '/0'].includes(new URL(url).pathname)) {
            throw new InvalidOptionError(
              `${field}[${i}]`,
              url,
              'a node URL without a database (a Cluster has only 0)',
            );
          }
        });
        break;
      case 'client':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new InvalidOptionError(field, value, 'an object of ioredis options');
        }
        // Keys are built inside the scripts from `prefix`; ioredis's own prefix would miss them.
        if ((value as RedisOptions).keyPrefix !== undefined) {
          throw new InvalidOptionError(
            `${field}.keyPrefix`,
            (value as RedisOptions).keyPrefix,
            'not supported: use store.prefix',
          );
        }
        // Replies are read in their RESP2 shapes.
        if (
          (value as RedisOptions).replyMapping !== undefined &&
          (value as RedisOptions).replyMapping !== 'legacy'
        ) {
          throw new InvalidOptionError(
            `${field}.replyMapping`,
            (value as RedisOptions).replyMapping,
            "only 'legacy' (the default)",
          );
        }
        break;
      case 'prefix':
        if (typeof value !== 'string' || !PREFIX.test(value)) {
          throw new InvalidOptionError(field, value, 'a name of 1 to 100 letters, digits or _ . @ / -');
        }
        break;
      case 'onError':
        if (typeof value !== 'function') throw new InvalidOptionError(field, value, 'a function');
        break;
      case 'handoff':
        if (typeof value !== 'boolean') throw new InvalidOptionError(field, value, 'true or false');
        break;
      default:
        throw new InvalidOptionError(
          field,
          value,
          `not a Redis store option; known: ${OPTION_KEYS.join(', ')}`,
        );
    }
  }
}
