import { InvalidOptionError, type JobState, SundialError } from '../core/index.ts';
import { ACTION_STATES } from '../queue/index.ts';
import type { AdminContext } from './context.ts';
import type { DryRun, JobsAdmin } from './jobs.ts';
import type { OperationInfo } from './operations.ts';
import { DRAIN, OBLITERATE, QUEUE_REF } from './schemas.ts';
import { parseInput } from './validate.ts';

export interface QueueSummary {
  name: string;
  paused: boolean;
  counts: Record<JobState, number>;
}

/** Queues: listed with their counts, paused and resumed, drained, obliterated. */
export class QueuesAdmin {
  private readonly context: AdminContext;
  private readonly jobs: JobsAdmin;

  constructor(context: AdminContext, jobs: JobsAdmin) {
    this.context = context;
    this.jobs = jobs;
  }

  /** Every queue that has jobs or a pause flag, with its job counts by state. */
  async list(): Promise<QueueSummary[]> {
    const names = await this.context.store.listQueues();
    return Promise.all(
      names.map(async (name) => {
        const queue = this.context.queue(name);
        const [paused, counts] = await Promise.all([queue.isPaused(), queue.counts()]);
        return { name, paused, counts };
      }),
    );
  }

  /** Stops workers everywhere from claiming the queue's jobs (running ones finish). */
  async pause(input: unknown): Promise<{ queue: string; paused: true }> {
    const { queue } = parseInput(QUEUE_REF, input);
    await this.context.queue(queue).pause();
    return { queue, paused: true };
  }

  async resume(input: unknown): Promise<{ queue: string; paused: false }> {
    const { queue } = parseInput(QUEUE_REF, input);
    await this.context.queue(queue).resume();
    return { queue, paused: false };
  }

  /** Deletes the queue's waiting and delayed jobs (as BullMQ's drain); running and finished ones stay. */
  async drain(input: unknown): Promise<DryRun | OperationInfo> {
    const { queue, dryRun } = parseInput(DRAIN, input);
    const filter = this.jobs.checkedFilter({ queue, states: ['waiting', 'delayed'] });
    return this.jobs.runBulk('drain', 'remove', filter, undefined, dryRun);
  }

  /**
   * Deletes the queue: every job of it, its pause flag, its place in the list. `confirm` must be the
   * queue's name again. While jobs of it run it is refused, unless `force`, which cancels them first
   * (their workers are told at once).
   */
  async obliterate(input: unknown): Promise<OperationInfo> {
    const { queue, confirm, force } = parseInput(OBLITERATE, input);
    if (confirm !== queue)
      throw new InvalidOptionError('confirm', confirm, `the queue's name again: ${JSON.stringify(queue)}`);
    const all = this.jobs.checkedFilter({ queue });
    const running = await this.context.store.countMatching({ queue, states: ['active'] }, 1_000_000);
    if (running.count > 0 && !force) {
      throw new SundialError(
        'SUNDIAL_QUEUE_BUSY',
        `Queue ${JSON.stringify(queue)} has ${running.count} running job${running.count === 1 ? '' : 's'}: wait for them, or pass force to cancel them first`,
      );
    }
    const total = await this.context.store.countMatching(all, 100_000_000);
    return this.context.operations.start('obliterate', queue, total, async (progress) => {
      // Cancelled first (their workers are told), then removed with the rest: counted once, there.
      const uncounted = { looked: () => {} };
      if (force)
        await this.jobs.applyToMatching('cancel', { queue, states: ['active'] }, Infinity, uncounted);
      await this.jobs.applyToMatching('remove', { queue, states: ACTION_STATES.remove }, Infinity, progress);
      if (await this.context.store.forgetQueue(queue)) return null;
      return `jobs were added to ${queue} (or started in it) while it was obliterated: run it again to delete them`;
    });
  }
}
