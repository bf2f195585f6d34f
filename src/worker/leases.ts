import type { Job } from '../core/index.ts';
import type { SundialContext } from '../queue/index.ts';
import type { ResolvedOptions } from './options.ts';
import type { Running } from './running.ts';

/** What a `LeaseKeeper` needs from its worker. */
export interface LeaseHolder {
  id: string;
  queue: string;
  context: SundialContext;
  options: Pick<ResolvedOptions, 'leaseMs' | 'heartbeatMs' | 'stalledCheckMs'>;
  /** The runs going now. */
  runs(): Running[];
  /** The jobs claimed ahead, waiting for a slot: the worker's own array, which this may shorten. */
  waiting(): Job[];
  /** Every job the worker holds (running, waiting, finished with the outcome not stored yet). */
  heldIds(): string[];
  /** A run whose lease is gone (cancelled, or recovered as stalled): abort it. */
  lost(run: Running): void;
  /** After a heartbeat: slots may have come free. */
  hasRoom(): void;
  reportError(error: unknown, what: string): void;
}

/**
 * A worker's leases: renewed by heartbeat while it holds jobs (a run whose lease is gone is
 * aborted, a job claimed ahead and cancelled never starts), and, on its own timer, the jobs of
 * workers that stopped renewing theirs recovered (stall recovery).
 */
export class LeaseKeeper {
  private readonly holder: LeaseHolder;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stalledTimer: NodeJS.Timeout | null = null;

  constructor(holder: LeaseHolder) {
    this.holder = holder;
  }

  start(): void {
    const { heartbeatMs, stalledCheckMs } = this.holder.options;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), heartbeatMs);
    this.stalledTimer = setInterval(() => void this.recoverStalled(), stalledCheckMs);
    void this.recoverStalled();
  }

  /** Closing: no more looking for others' stalled jobs (our own leases are still renewed). */
  stopRecovering(): void {
    if (this.stalledTimer) clearInterval(this.stalledTimer);
  }

  stop(): void {
    this.stopRecovering();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
  }

  /** Renews our leases; a run whose lease we lost (cancelled, or recovered as stalled) is aborted. */
  async heartbeat(): Promise<void> {
    const { context, id, options } = this.holder;
    const runs = this.holder.runs();
    const prefetched = this.holder.waiting();
    if (runs.length === 0 && prefetched.length === 0) return;
    const waiting = [...prefetched];
    try {
      const held = new Set(
        await context.store.renewLeases(
          id,
          [...runs.map((run) => run.job), ...waiting].map((job) => ({ id: job.id, attempt: job.attempt })),
          context.clock.now() + options.leaseMs,
        ),
      );
      for (const run of runs) {
        if (held.has(run.job.id) || run.done) continue;
        this.holder.lost(run);
      }
      // A job claimed ahead and cancelled before it started: it never starts.
      for (const job of waiting) {
        const index = prefetched.indexOf(job);
        if (!held.has(job.id) && index >= 0) prefetched.splice(index, 1);
      }
      this.holder.hasRoom();
    } catch (error) {
      this.holder.reportError(error, 'renewing leases');
    }
  }

  private async recoverStalled(): Promise<void> {
    const { context, queue, id } = this.holder;
    try {
      const stalled = await context.store.recoverStalled({
        now: context.clock.now(),
        queue,
        // We know we are alive: a lease of ours that lapsed while our event loop was stuck is
        // renewed by the next heartbeat, not handed to someone else. Only the runs we know of,
        // though: a job claimed under our name whose claim never reached us (the answer was lost
        // in a dropped connection) would otherwise wait for ever.
        exceptOwner: id,
        exceptHeld: this.holder.heldIds(),
      });
      // Every job event carries the job: read once it is recovered (stalls are rare).
      if (stalled.length > 0 && context.events.has('job.stalled')) {
        for (const { id: jobId, recovered } of stalled) {
          const job = await context.store.getJob(jobId);
          if (job) context.events.emit('job.stalled', { job, recovered });
        }
      }
    } catch (error) {
      this.holder.reportError(error, 'recovering stalled jobs');
    }
  }
}
