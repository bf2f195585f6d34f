import { type Job, StoreUnavailableError } from '../core/index.ts';
import type { SundialContext } from '../queue/index.ts';
import type { HeldLease } from '../store/index.ts';
import type { ResolvedOptions } from './options.ts';

/** What a `HandoffReceiver` needs from its worker. */
export interface HandoffHost {
  id: string;
  queue: string;
  context: SundialContext;
  options: Pick<ResolvedOptions, 'leaseMs' | 'heartbeatMs' | 'pollMs'>;
  /** Whether the worker runs (not closing). */
  isRunning(): boolean;
  /** Takes jobs into free slots; those that do not fit, or are not `usable`, go back to waiting. */
  accept(jobs: readonly Job[], usable: (job: Job) => boolean): void;
  /** Every job the worker holds. */
  heldIds(): string[];
  wake(): void;
  reportError(error: unknown, what: string): void;
}

/**
 * A worker's side of direct handoff (see `Handoff` in the store): it listens for the jobs adds hand
 * to it, keeps what it knows of its offer of free slots (which its claims make and renew), and gives
 * back what was handed to it when it stops, or when a release of orphans may have given those runs
 * back already.
 */
export class HandoffReceiver {
  private readonly host: HandoffHost;
  /**
   * Stops listening for handed jobs: set once the store's `handoff` delivers to us, and while it is,
   * our claims offer our free slots to adds.
   */
  private stop: (() => Promise<void>) | null = null;
  /**
   * Our offer in the store as far as we know: the free slots the claim that made it left, less the
   * jobs handed to us since, and until when. A claim keeps it as it stands while it is good enough
   * (see `mayLeaveOfferStanding` and `ClaimRequest.offerStands`). It can be off by a job or two (a
   * handed job and a claim crossing), which only makes an add hand one job too many (it goes back,
   * see receiveHanded) or pass us over.
   */
  private offer: { free: number; until: number } | null = null;
  /**
   * Jobs handed to us while a release of orphans is under way, judged once it answers: the release
   * may have given back the very runs these messages carry.
   */
  private handedDuringRelease: Job[] | null = null;
  /** Runs released as orphans (id -> attempt): their handed message, arriving late, is dropped. */
  private readonly releasedRuns = new Map<string, number>();

  constructor(host: HandoffHost) {
    this.host = host;
  }

  /** Whether jobs are handed to us: then our claims offer our free slots. */
  get receiving(): boolean {
    return this.stop !== null;
  }

  /** What a claim that offered `free` slots until `until` left in the store. */
  offered(free: number, until: number): void {
    this.offer = free > 0 ? { free, until } : null;
  }

  /** Our offer is unknown (withdrawn, or a claim failed): the next claim offers anew. */
  forgetOffer(): void {
    this.offer = null;
  }

  /**
   * Runs a release of our orphans, which also withdraws our offer. A job an add handed us just
   * before may be released while its message is on the way: messages arriving meanwhile wait for
   * the answer, and those of released runs are then dropped.
   */
  async releaseOrphans(release: () => Promise<HeldLease[]>): Promise<void> {
    this.handedDuringRelease = [];
    try {
      for (const run of await release()) this.rememberReleased(run);
      this.offer = null; // withdrawn: the next claim offers anew
    } finally {
      const handed = this.handedDuringRelease;
      this.handedDuringRelease = null;
      if (handed.length > 0) this.receiveHanded(handed);
    }
  }

  /**
   * Where the store hands jobs from adds straight to idle workers: listen for ours, then offer our
   * free slots with every claim (the next one, at once). Without it we are woken and claim.
   */
  listen(): void {
    const handoff = this.host.context.store.handoff;
    if (!handoff) return;
    handoff.receive(this.host.id, this.receiveHanded).then(
      (stop) => {
        if (!this.host.isRunning()) return void stop(); // closed meanwhile: nothing was offered
        this.stop = stop;
        this.host.wake();
      },
      (error: unknown) => this.host.reportError(error, 'listening for jobs handed to it'),
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
    if (!this.host.isRunning()) return;
    if (this.handedDuringRelease) {
      this.handedDuringRelease.push(...delivered);
      return;
    }
    // A run released as an orphan is waiting again: whoever claims it next runs it, not us.
    const jobs = delivered.filter((job) => this.releasedRuns.get(job.id) !== job.attempt);
    if (this.offer) this.offer.free -= jobs.length;
    // More than halfway between the heartbeat and the lease left: the first heartbeat comes in time.
    const { leaseMs, heartbeatMs } = this.host.options;
    const freshUntil = this.host.context.clock.now() + heartbeatMs + (leaseMs - heartbeatMs) / 2;
    this.host.accept(jobs, (job) => (job.leaseExpiresAt ?? 0) >= freshUntil);
  };
  /**
   * Whether a claim of `limit` may leave our offer as it stands (unless it takes jobs): it offers at
   * least half of that and no more, and has more than one poll interval and a half to run, so the
   * idle poll renews it in time. While jobs are handed to us one by one, most claims that follow
   * their outcomes then leave the offer alone.
   */
  mayLeaveOfferStanding(limit: number, now: number): boolean {
    const offer = this.offer;
    if (!offer) return false;
    return (
      offer.free <= limit && offer.free * 2 >= limit && offer.until - now > 1.5 * this.host.options.pollMs
    );
  }
  /** Stops offering; what was handed to us that we do not hold goes back to waiting. */
  async withdraw(): Promise<number> {
    const stop = this.stop;
    if (!stop) return 0;
    this.stop = null;
    this.offer = null;
    // Bounded: with the store away, closing must not wait for it to come back (an idle worker has
    // nothing else to store). The calls stay queued and land once it is back.
    try {
      const released = await withinMs(
        WITHDRAW_WAIT_MS,
        this.host.context.store.releaseOrphans({
          queue: this.host.queue,
          owner: this.host.id,
          held: this.host.heldIds(),
          now: this.host.context.clock.now(),
        }),
      );
      return released.length;
    } catch (error) {
      // They stay leased to us and are recovered as orphans once their leases expire.
      this.host.reportError(error, 'withdrawing its offer');
      return 0;
    } finally {
      await withinMs(WITHDRAW_WAIT_MS, stop()).catch((error: unknown) =>
        this.host.reportError(error, 'no longer listening for handed jobs'),
      );
    }
  }
  private rememberReleased(run: HeldLease): void {
    this.releasedRuns.set(run.id, run.attempt);
    // A late message comes within moments: the oldest entries can go.
    if (this.releasedRuns.size > RELEASED_RUNS_KEPT) {
      this.releasedRuns.delete(this.releasedRuns.keys().next().value!);
    }
  }
}

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
