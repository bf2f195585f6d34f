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
  RECONNECTS_CHANNEL,
} from '../store/index.ts';
import { JobExecutor } from './executor.ts';
import { type HandlerDefinition, type Handlers, normaliseHandlers } from './handlers.ts';
import { HandoffReceiver } from './handoff-receiver.ts';
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
  /** Jobs handed to us by adds, and the offer of our free slots that brings them (handoff-receiver.ts). */
  private readonly handoffs: HandoffReceiver;
  /** Renews our leases while we hold jobs, and recovers jobs of workers that stopped (leases.ts). */
  private readonly leases: LeaseKeeper;
  private unsubscribe: (() => void) | null = null;
  /**
   * Set after connection trouble: a claim of ours may have been carried out with its answer lost,
   * leaving jobs active under our name that we never heard of. Before the next claim, with none
   * under way, they go back to waiting (`releaseOrphans`), counted as no stall.
   */
  private orphansSuspected = false;
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
    this.handoffs = new HandoffReceiver({
      id: this.id,
      queue: this.queue,
      context,
      options: this.options,
      isRunning: () => this.state === 'running',
      accept: (jobs, usable) => this.accept(jobs, usable),
      heldIds: () => this.heldIds(),
      wake: () => this.wake(),
      reportError: (error, what) => this.reportError(error, what),
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
      this.handoffs.forgetOffer(); // it may name a connection that is gone: the next claim offers anew
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
    this.handoffs.listen();
    this.wake();
  }

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
    try {
      await this.handoffs.releaseOrphans(() =>
        this.context.store.releaseOrphans({
          queue: this.queue,
          owner: this.id,
          held: this.heldIds(),
          now: this.context.clock.now(),
        }),
      );
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
    }
  }

  private async roundsEnded(): Promise<void> {
    while (this.rounds.size > 0) await Promise.all(this.rounds);
  }

  /**
   * One store call: stores the outcomes of finished attempts and claims up to `limit` jobs (none
   * once closing). `failed` when the store failed, so the next round waits for the backstop poll
   * instead of hammering a store that is away; `again` when the claim did not happen.
   */
  private async pumpRound(finished: Finished[], limit: number): Promise<'stored' | 'again' | 'failed'> {
    const now = this.context.clock.now();
    const read = ++this.pollReads;
    const offerStands = this.handoffs.mayLeaveOfferStanding(limit, now);
    const claim: ClaimRequest | null =
      limit > 0
        ? {
            queue: this.queue,
            owner: this.id,
            limit,
            now,
            leaseExpiresAt: now + this.options.leaseMs,
            // Renewed by claims, the idle poll's too (see mayLeaveOfferStanding).
            ...(this.handoffs.receiving ? { offerUntil: now + 2 * this.options.pollMs, offerStands } : {}),
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
        this.handoffs.offered(free, claim.offerUntil);
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
      this.handoffs.forgetOffer(); // whatever the store holds now, the next claim writes it anew
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
    let released = await this.handoffs.withdraw();
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
