import {
  checkName,
  countOrOne,
  type Job,
  newOwnerId,
  StoreUnavailableError,
  SundialError,
} from '../core/index.ts';
import type { SundialContext } from '../queue/index.ts';
import {
  CANCELS_CHANNEL,
  type ClaimRequest,
  type FinishAndClaimResult,
  type HeldLease,
  RECONNECTS_CHANNEL,
} from '../store/index.ts';
import { JobExecutor } from './executor.ts';
import { type HandlerDefinition, type Handlers, normaliseHandlers } from './handlers.ts';
import { LeaseKeeper } from './leases.ts';
import { type ResolvedOptions, resolveOptions, type WorkerOptions } from './options.ts';
import { unstorableOutcome } from './outcome.ts';
import { announceFinished, type Finished, leaseLost } from './running.ts';

type WorkerState = 'idle' | 'running' | 'closing' | 'closed';

/**
 * Claims jobs of one queue and runs them with its handlers, at most `concurrency` at once.
 * Get one with `sundial.worker(queue, handlers, options)`.
 *
 * It claims in batches up to its free slots, renews its leases by heartbeat while jobs run, and
 * reports outcomes in batches (one store transaction per event-loop turn). It wakes on the
 * store's notifications and polls slowly only as a backstop.
 *
 * @example
 * const worker = sundial.worker('emails', {
 *   welcome: async ({ userId }, { signal }) => sendWelcome(userId, { signal }),
 * }, { concurrency: 20 });
 * // later
 * await worker.close();
 */
export class Worker {
  readonly id: string;
  readonly queue: string;
  private readonly handlers: Map<string, HandlerDefinition>;
  private readonly options: ResolvedOptions;
  /** Runs the jobs: what is running, and what waits for a slot (executor.ts). */
  private readonly executor: JobExecutor;
  /** Outcomes waiting to be stored by the next pump round. */
  private outcomes: Finished[] = [];
  /** Outcomes the rounds under way are storing (their jobs are still ours until they are done). */
  private readonly storing = new Set<Finished[]>();
  private state: WorkerState = 'idle';
  /** The pump rounds under way: at most `depth`. */
  private readonly rounds = new Set<Promise<void>>();
  /** The store's `pipelineDepth`; 1 for a store written before it (or a bad value). */
  private readonly depth: number;
  /** A round's share of the slots while the queue has more: all of them split over `depth` rounds. */
  private readonly share: number;
  /** Free slots the claims of the rounds under way are filling. */
  private claiming = 0;
  /**
   * The last claim came back short: the queue had no more. Then one claim at a time, for every free
   * slot, is enough (a second would only come back empty too, a round trip per finished job for
   * nothing); a full claim brings back two at once.
   */
  private drained = false;
  private pumpScheduled = false;
  /**
   * Counts wake-ups. A round notes the count when it starts; one that ends after more came goes
   * round again, since its claim may have looked before what they announced.
   */
  private wakeUps = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  /** Numbers the reads of when the next job is due as they start (round or `nextRunAt`)... */
  private pollReads = 0;
  /** ...and the latest-started one that set the timer: an older answer arriving later is stale. */
  private pollReadApplied = 0;
  /** Renews our leases while we hold jobs, and recovers jobs of workers that stopped (leases.ts). */
  private readonly leases: LeaseKeeper;
  private unsubscribe: (() => void) | null = null;
  /**
   * Stops listening for handed jobs: set once the store's `handoff` delivers to us, and while it is,
   * our claims offer our free slots to adds.
   */
  private stopHandoffs: (() => Promise<void>) | null = null;
  /**
   * Our offer in the store as far as we know: the free slots the claim that made it left, less the
   * jobs handed to us since, and until when. A claim keeps it as it stands while it is good enough
   * (see `mayLeaveOfferStanding` and `ClaimRequest.offerStands`). It can be off by a job or two (a
   * handed job and a claim crossing), which only makes an add hand one job too many (it goes back,
   * see receiveHanded) or pass us over.
   */
  private offer: { free: number; until: number } | null = null;
  /**
   * Set after connection trouble: a claim of ours may have been carried out with its answer lost,
   * leaving jobs active under our name that we never heard of. Before the next claim, with none
   * under way, they go back to waiting (`releaseOrphans`), counted as no stall.
   */
  private orphansSuspected = false;
  /**
   * Jobs handed to us while a release of orphans is under way, judged once it answers: the release
   * may have given back the very runs these messages carry.
   */
  private handedDuringRelease: Job[] | null = null;
  /** Runs released as orphans (id -> attempt): their handed message, arriving late, is dropped. */
  private readonly releasedRuns = new Map<string, number>();
  /** Releases in a row that failed for a reason other than the store being away. */
  private releaseFailures = 0;
  private closing: Promise<void> | null = null;
  private readonly context: SundialContext;

  constructor(queue: string, handlers: Handlers, context: SundialContext, options: WorkerOptions = {}) {
    this.context = context;
    this.queue = checkName('queue', queue);
    this.handlers = normaliseHandlers(handlers);
    this.options = resolveOptions(options);
    this.id = newOwnerId('worker');
    this.depth = countOrOne(context.store.pipelineDepth);
    this.share = Math.ceil((this.options.concurrency + this.options.prefetch) / this.depth);
    this.executor = new JobExecutor({
      id: this.id,
      context,
      options: this.options,
      handlers: this.handlers,
      isRunning: () => this.state === 'running',
      finished: (entry) => {
        this.outcomes.push(entry);
        this.wake();
      },
    });
    this.leases = new LeaseKeeper({
      id: this.id,
      queue: this.queue,
      context,
      options: this.options,
      runs: () => [...this.executor.running.values()],
      waiting: () => this.executor.prefetched,
      heldIds: () => this.heldIds(),
      lost: (run) => {
        this.executor.drop(run, leaseLost(run.job.id));
        this.context.events.emit('job.interrupted', { job: run.job, worker: this.id });
      },
      hasRoom: () => {
        if (this.executor.running.size < this.options.concurrency) this.wake();
      },
      reportError: (error, what) => this.reportError(error, what),
    });
    if (options.autostart ?? true) this.start();
  }

  /** Starts claiming. Called by the constructor unless `autostart: false`. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const unsubscribeJobs = this.context.store.subscribe(this.queue, this.wake);
    // A job cancelled while it runs (an interrupt): renew leases now to find out whether it is ours.
    const unsubscribeCancels = this.context.store.subscribe(CANCELS_CHANNEL, () => {
      void this.leases.heartbeat();
    });
    const unsubscribeReconnects = this.context.store.subscribe(RECONNECTS_CHANNEL, () => {
      this.orphansSuspected = true;
      this.offer = null; // it may name a connection that is gone: the next claim offers anew
      this.wake();
    });
    this.unsubscribe = () => {
      unsubscribeJobs();
      unsubscribeCancels();
      unsubscribeReconnects();
    };
    this.leases.start();
    this.context.events.emit('worker.started', {
      worker: this.id,
      queue: this.queue,
      concurrency: this.options.concurrency,
    });
    this.receiveHandoffs();
    this.wake();
  }

  /**
   * Where the store hands jobs from adds straight to idle workers: listen for ours, then offer our
   * free slots with every claim (the next one, at once). Without it we are woken and claim.
   */
  private receiveHandoffs(): void {
    const handoff = this.context.store.handoff;
    if (!handoff) return;
    handoff.receive(this.id, this.receiveHanded).then(
      (stop) => {
        if (this.state !== 'running') return void stop(); // closed meanwhile: nothing was offered
        this.stopHandoffs = stop;
        this.wake();
      },
      (error: unknown) => this.reportError(error, 'listening for jobs handed to it'),
    );
  }

  /**
   * Jobs an add claimed for us start like claimed ones. Some go straight back to waiting instead:
   * - what does not fit: an offer can be more than we have free by the time a job arrives (a claim
   *   took slots it had counted), and a job must not wait here behind running ones while another
   *   worker has room. Claims still under way are not counted: they mostly come back empty when
   *   jobs are being handed, and one that does not gives back what no longer fits (see pumpRound);
   * - a job whose lease, counted from its add, is too far gone for our first heartbeat to come in
   *   time (an add that waited in a client's queue through a reconnect): another worker could
   *   recover it as stalled while we run it.
   * Once closing they are left alone: `withdraw` gives them back.
   */
  private readonly receiveHanded = (delivered: Job[]): void => {
    if (this.state !== 'running') return;
    if (this.handedDuringRelease) {
      this.handedDuringRelease.push(...delivered);
      return;
    }
    // A run released as an orphan is waiting again: whoever claims it next runs it, not us.
    const jobs = delivered.filter((job) => this.releasedRuns.get(job.id) !== job.attempt);
    if (this.offer) this.offer.free -= jobs.length;
    // More than halfway between the heartbeat and the lease left: the first heartbeat comes in time.
    const { leaseMs, heartbeatMs } = this.options;
    const freshUntil = this.context.clock.now() + heartbeatMs + (leaseMs - heartbeatMs) / 2;
    this.accept(jobs, (job) => (job.leaseExpiresAt ?? 0) >= freshUntil);
  };

  /**
   * Takes jobs claimed or handed to us, in order, into the slots still free (after any claimed
   * earlier and still waiting for one); those that do not fit, or are not `usable`, go straight
   * back to waiting.
   */
  private accept(jobs: readonly Job[], usable: (job: Job) => boolean = () => true): void {
    let free = this.room;
    const back: Job[] = [];
    for (const job of jobs) {
      if (free > 0 && usable(job)) {
        this.executor.prefetched.push(job);
        free--;
      } else {
        back.push(job);
      }
    }
    this.executor.startPrefetched();
    if (back.length > 0) void this.release(back);
  }

  /** Stops offering; what was handed to us that we do not hold goes back to waiting. */
  private async withdrawOffer(): Promise<number> {
    const stop = this.stopHandoffs;
    if (!stop) return 0;
    this.stopHandoffs = null;
    this.offer = null;
    // Bounded: with the store away, closing must not wait for it to come back (an idle worker has
    // nothing else to store). The calls stay queued and land once it is back.
    try {
      const released = await withinMs(
        WITHDRAW_WAIT_MS,
        this.context.store.releaseOrphans({
          queue: this.queue,
          owner: this.id,
          held: this.heldIds(),
          now: this.context.clock.now(),
        }),
      );
      return released.length;
    } catch (error) {
      // They stay leased to us and are recovered as orphans once their leases expire.
      this.reportError(error, 'withdrawing its offer');
      return 0;
    } finally {
      await withinMs(WITHDRAW_WAIT_MS, stop()).catch((error: unknown) =>
        this.reportError(error, 'no longer listening for handed jobs'),
      );
    }
  }

  /** Slots neither running a job nor holding one claimed ahead (claims under way not counted). */
  private get room(): number {
    return (
      this.options.concurrency +
      this.options.prefetch -
      this.executor.running.size -
      this.executor.prefetched.length
    );
  }

  /** Jobs running now. */
  get activeCount(): number {
    return this.executor.running.size;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /**
   * Stops claiming, waits up to `graceMs` for running jobs, then aborts the rest and puts them back
   * to waiting so another worker picks them up. Resolves when every outcome is stored.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.graceMs ?? this.options.graceMs);
    return this.closing;
  }

  /** Something to do, or perhaps a job to claim: schedules a look (see `wakeUps`). */
  private readonly wake = (): void => {
    this.wakeUps++;
    this.schedulePump();
  };

  /** Many wake-ups in one turn cost one look at what there is to do. */
  private schedulePump(): void {
    if (this.state === 'idle' || this.state === 'closed') return;
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  /**
   * Starts rounds while there is something to store or a slot to fill, up to the store's
   * `pipelineDepth` at once; resolves when every round under way has ended. A round that ends goes
   * round again only for wake-ups that came while it was under way (not for its own ending, or an
   * idle worker would spin): their jobs may have been added after its claim looked.
   */
  private pump(): Promise<void> {
    const depth = this.depth;
    if (this.orphansSuspected && this.state === 'running') {
      // No claim may be under way while we ask what we hold: its jobs are not ours to know yet.
      if (this.rounds.size === 0) this.startRound(this.releaseOrphans());
      return this.roundsEnded();
    }
    while (this.rounds.size < depth) {
      const finished = this.outcomes;
      const free = this.state === 'running' ? this.room - this.claiming : 0;
      // While the queue has more, the slots are split between the rounds under way: while the store
      // answers one, the jobs of the other run, instead of one big round and a worker that waits for
      // it. Once a claim came back short, one claim at a time for every free slot (see `drained`).
      const limit = this.drained ? (this.claiming > 0 ? 0 : free) : Math.min(free, this.share);
      if (finished.length === 0 && limit <= 0) break;
      this.outcomes = [];
      this.startRound(this.pumpRound(finished, limit));
    }
    return this.roundsEnded();
  }

  /** Keeps track of a round under way, and goes round again when it asks to or wake-ups came. */
  private startRound(work: Promise<'stored' | 'again' | 'failed'>): void {
    const wakeUpsBefore = this.wakeUps;
    const round: Promise<void> = work
      .catch(() => 'failed' as const) // it reports its own errors; this only keeps `rounds` right
      .then((next) => {
        this.rounds.delete(round);
        if (next === 'again' || (next === 'stored' && this.wakeUps !== wakeUpsBefore)) this.schedulePump();
      });
    this.rounds.add(round);
  }

  /**
   * Gives back the jobs the store says we hold and we do not (see `orphansSuspected`): they were
   * never started, so they are released, not counted as stalls.
   */
  private async releaseOrphans(): Promise<'again' | 'failed'> {
    // The store withdraws our offer with it; a job an add handed us just before may be released
    // while its message is on the way: messages arriving meanwhile wait for the answer.
    this.handedDuringRelease = [];
    try {
      const released = await this.context.store.releaseOrphans({
        queue: this.queue,
        owner: this.id,
        held: this.heldIds(),
        now: this.context.clock.now(),
      });
      for (const run of released) this.rememberReleased(run);
      this.offer = null; // withdrawn: the next claim offers anew
      this.orphansSuspected = false;
      this.releaseFailures = 0;
      return 'again';
    } catch (error) {
      this.reportError(error, 'releasing jobs claimed under its name whose claim answer was lost');
      // While the store is away nothing else can happen either. A release that keeps failing for
      // another reason must not stop the worker: their lease expiry recovers such jobs as stalls.
      if (!(error instanceof StoreUnavailableError) && ++this.releaseFailures >= MAX_RELEASE_FAILURES) {
        this.orphansSuspected = false;
        this.releaseFailures = 0;
      }
      this.armPollIn(this.options.pollMs);
      return 'failed';
    } finally {
      const handed = this.handedDuringRelease;
      this.handedDuringRelease = null;
      if (handed.length > 0) this.receiveHanded(handed);
    }
  }

  private rememberReleased(run: HeldLease): void {
    this.releasedRuns.set(run.id, run.attempt);
    // A late message comes within moments: the oldest entries can go.
    if (this.releasedRuns.size > RELEASED_RUNS_KEPT) {
      this.releasedRuns.delete(this.releasedRuns.keys().next().value!);
    }
  }

  private async roundsEnded(): Promise<void> {
    while (this.rounds.size > 0) await Promise.all(this.rounds);
  }

  /**
   * Whether a claim of `limit` may leave our offer as it stands (unless it takes jobs): it offers at
   * least half of that and no more, and has more than one poll interval and a half to run, so the
   * idle poll renews it in time. While jobs are handed to us one by one, most claims that follow
   * their outcomes then leave the offer alone.
   */
  private mayLeaveOfferStanding(limit: number, now: number): boolean {
    const offer = this.offer;
    if (!offer) return false;
    return offer.free <= limit && offer.free * 2 >= limit && offer.until - now > 1.5 * this.options.pollMs;
  }

  /**
   * One store call: stores the outcomes of finished attempts and claims up to `limit` jobs (none
   * once closing). `failed` when the store failed, so the next round waits for the backstop poll
   * instead of hammering a store that is away; `again` when the claim did not happen.
   */
  private async pumpRound(finished: Finished[], limit: number): Promise<'stored' | 'again' | 'failed'> {
    const now = this.context.clock.now();
    const read = ++this.pollReads;
    const offerStands = this.mayLeaveOfferStanding(limit, now);
    const claim: ClaimRequest | null =
      limit > 0
        ? {
            queue: this.queue,
            owner: this.id,
            limit,
            now,
            leaseExpiresAt: now + this.options.leaseMs,
            // Renewed by claims, the idle poll's too (see mayLeaveOfferStanding).
            ...(this.stopHandoffs ? { offerUntil: now + 2 * this.options.pollMs, offerStands } : {}),
          }
        : null;
    this.storing.add(finished);
    this.claiming += claim?.limit ?? 0;
    try {
      let result: FinishAndClaimResult;
      try {
        result = await this.context.store.finishAndClaim(
          finished.map((entry) => entry.outcome),
          claim,
        );
      } catch (error) {
        if (finished.length === 0) throw error;
        if (error instanceof StoreUnavailableError) {
          this.outcomes = finished.concat(this.outcomes); // kept for when the store is back
          throw error;
        }
        // Perhaps one outcome the store cannot take: store them one at a time, so a bad one can
        // block neither the others nor every later claim.
        this.reportError(error, 'storing outcomes');
        await this.storeOneByOne(finished);
        return 'again';
      }
      for (let i = 0; i < finished.length; i++)
        if (result.applied[i]) announceFinished(this.context.events, this.id, finished[i]!);
      if (claim?.offerUntil !== undefined && !(offerStands && result.jobs.length === 0)) {
        const free = claim.limit - result.jobs.length;
        this.offer = free > 0 ? { free, until: claim.offerUntil } : null;
      }
      if (this.state !== 'running') {
        // close() began while this claim was under way: hand the jobs straight back.
        await this.release(result.jobs);
        return 'stored';
      }
      // Jobs handed to us while the claim was under way may have taken slots it counted on: what
      // does not fit goes back (see receiveHanded).
      this.accept(result.jobs);
      if (claim) {
        this.drained = result.jobs.length < claim.limit;
        if (this.drained) {
          if (result.nextRunAt !== undefined) this.armPollUntil(read, result.nextRunAt);
          // Off the round's path: a wake-up arriving meanwhile must not wait for this read.
          else void this.armPoll();
        }
      }
      return 'stored';
    } catch (error) {
      this.reportError(error, 'storing outcomes and claiming jobs');
      // The claim may have been carried out with its answer lost (or we cannot tell): look before
      // claiming again. A refusal means the server did not run it.
      if (claim && !(error instanceof StoreUnavailableError && error.refused)) this.orphansSuspected = true;
      this.offer = null; // whatever the store holds now, the next claim writes it anew
      this.armPollIn(this.options.pollMs);
      return 'failed';
    } finally {
      this.storing.delete(finished);
      this.claiming -= claim?.limit ?? 0;
    }
  }

  /**
   * Stores outcomes one at a time. One the store refuses is replaced by a plain `dead` outcome
   * that says why; if even that fails the store itself is failing, and what is left waits for the
   * next round (were the process to die first, the leases expire and the jobs run again).
   */
  private async storeOneByOne(finished: Finished[]): Promise<void> {
    for (let i = 0; i < finished.length; i++) {
      const entry = finished[i]!;
      try {
        const [applied] = await this.context.store.finishJobs([entry.outcome]);
        if (applied) announceFinished(this.context.events, this.id, entry);
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          // Nothing wrong with the outcome: the store is away. Keep it all for the next round.
          this.outcomes = finished.slice(i).concat(this.outcomes);
          throw error;
        }
        const fallback = unstorableOutcome(entry.job, entry.outcome, error, this.context.masker);
        try {
          const [applied] = await this.context.store.finishJobs([fallback]);
          if (applied)
            announceFinished(this.context.events, this.id, {
              ...entry,
              outcome: fallback,
              settled: { ok: false, error },
            });
        } catch (storeError) {
          this.outcomes = finished.slice(i).concat(this.outcomes);
          throw storeError;
        }
      }
    }
  }

  /** Sleeps until the next delayed job is due, or the backstop poll, whichever is sooner. */
  private async armPoll(): Promise<void> {
    const read = ++this.pollReads;
    let next: number | null = null;
    try {
      next = await this.context.store.nextRunAt(this.queue);
    } catch (error) {
      this.reportError(error, 'reading when the next delayed job is due');
    }
    this.armPollUntil(read, next);
  }

  /**
   * Sleeps until `next` (a job's run-at, or null for none) or the backstop poll, whichever is
   * sooner. Reads finish out of order: one that started before the read that set the timer last
   * is stale and ignored.
   */
  private armPollUntil(read: number, next: number | null): void {
    if (read < this.pollReadApplied) return;
    this.pollReadApplied = read;
    const untilDue = next === null ? this.options.pollMs : next - this.context.clock.now();
    this.armPollIn(Math.max(0, Math.min(this.options.pollMs, untilDue)));
  }

  private armPollIn(ms: number): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.state !== 'running') return;
    this.pollTimer = setTimeout(this.wake, ms);
  }

  /** Jobs this worker holds: running, or finished with the outcome not stored yet. */
  private heldIds(): string[] {
    return [
      ...this.executor.running.keys(),
      ...this.executor.prefetched.map((job) => job.id),
      ...[...this.storing].flat().map((finished) => finished.job.id),
      ...this.outcomes.map((finished) => finished.job.id),
    ];
  }

  private async shutdown(graceMs: number): Promise<void> {
    if (this.state === 'idle') this.state = 'closed';
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.unsubscribe?.();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.leases.stopRecovering();
    // Claims under way finish first; what they took after we began closing goes straight back.
    await this.roundsEnded();
    let released = await this.withdrawOffer();
    // Jobs claimed ahead never started: back to waiting at once, for other workers.
    released += await this.release(this.executor.prefetched.splice(0));

    // Leases keep being renewed while we wait for running jobs to finish.
    if (this.executor.running.size > 0) await this.executor.waitForIdle(graceMs);
    this.leases.stop();

    if (this.executor.running.size > 0) {
      const unfinished = [...this.executor.running.values()];
      for (const run of unfinished) {
        this.executor.drop(run, new SundialError('SUNDIAL_SHUTDOWN', 'The worker is shutting down'));
      }
      released += await this.release(unfinished.map((run) => run.job));
    }
    await this.flushOutcomes();
    this.state = 'closed';
    this.context.events.emit('worker.stopped', { worker: this.id, queue: this.queue, released });
  }

  /** Stores the outcomes still waiting (the pump claims nothing once closing), retrying a little. */
  private async flushOutcomes(): Promise<void> {
    for (let round = 0; round < 5 && (this.rounds.size > 0 || this.outcomes.length > 0); round++) {
      await this.pump();
      if (this.outcomes.length > 0) await new Promise((resolve) => setTimeout(resolve, 100 * round));
    }
    if (this.outcomes.length > 0) {
      // Their jobs stay active under a lease nobody renews: they run again once it expires.
      this.reportError(
        new SundialError('SUNDIAL_OUTCOMES_LOST', `${this.outcomes.length} outcomes could not be stored`),
        'closing',
      );
    }
  }

  private async release(jobs: readonly Job[]): Promise<number> {
    if (jobs.length === 0) return 0;
    try {
      return await this.context.store.releaseJobs(
        this.id,
        jobs.map((job) => job.id),
        this.context.clock.now(),
      );
    } catch (error) {
      this.reportError(error, 'releasing unfinished jobs');
      return 0;
    }
  }

  private reportError(error: unknown, context: string): void {
    this.context.events.emit('error', { error, context: `worker ${this.id}: ${context}` });
  }
}

/** Failed releases of orphans in a row (the store answering) before they are left to lease expiry. */
const MAX_RELEASE_FAILURES = 3;
/** Released runs remembered, to drop their late handed messages. */
const RELEASED_RUNS_KEPT = 1000;

/** How long closing waits for the store to withdraw an offer. */
const WITHDRAW_WAIT_MS = 3000;

/** `work`, or a timeout error after `ms` (the work goes on; its late result is dropped). */
function withinMs<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(new Error(`no answer within ${ms} ms`))), ms);
  });
  work.catch(() => {}); // a late failure is not unhandled
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
