import { randomUUID } from 'node:crypto';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { type Job, StoreClosedError, StoreUnavailableError, SundialError } from '../../core/index.ts';
import { ioredisDriver } from '../drivers.ts';
import { RoleDelegatingStore } from '../role-delegation.ts';
import {
  type AddedJob,
  type ClaimRequest,
  type FinishAndClaimResult,
  type Handoff,
  type HeldLease,
  type JobOutcome,
  type NewJob,
  type OwnedJobs,
  RECONNECTS_CHANNEL,
  type RecoverStalledRequest,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
} from '../store.ts';
import { addedJobs, addJobsOnCluster, finishAndClaimOnCluster, JobQueues, perQueue } from './cluster.ts';
import { addressOf, clusterNode, credentials, disconnect } from './connection.ts';
import type { RedisContext } from './context.ts';
import { FirstConnection } from './first-connection.ts';
import { RedisHandoff } from './handoff.ts';
import { nullable, pushJobArgs } from './jobs.ts';
import { globalBase, queueBase } from './keys.ts';
import { RedisLocks } from './locks.ts';
import { RedisJobManagement } from './management.ts';
import { checkOptions } from './options.ts';
import { finishAndClaimScript, type ScriptRunner } from './runner.ts';
import { RedisSchedules } from './schedules.ts';
import { type ScriptName, type Scripts, scriptsFor } from './scripts.ts';
import { checkDurability, type DurabilityCheck } from './server-check.ts';
import { Wakeups } from './wakeups.ts';

export { AT_RISK_CODE, type DurabilityCheck, durabilityWarning, UNCHECKED_CODE } from './server-check.ts';

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
export class RedisStore extends RoleDelegatingStore implements Store, ScriptRunner {
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
    super();
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
    const context: RedisContext = {
      prefix: this.prefix,
      global: this.global,
      client: this.client,
      onCluster: this.onCluster,
      jobQueues: this.jobQueues,
      run: (name, base, args) => this.run(name, base, args),
      command: (work) => this.command(work),
      check: () => this.check(),
    };
    this.roles = {
      management: new RedisJobManagement(context),
      schedules: new RedisSchedules(context),
      locks: new RedisLocks(context),
    };
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
