import type { Job, SundialEvents, TypedEmitter } from '../core/index.ts';
import { SundialError } from '../core/index.ts';
import type { JobOutcome } from '../store/index.ts';
import type { HandlerDefinition } from './handlers.ts';

/** An attempt that ended, with what its events need once its outcome is stored. */
export interface Finished {
  job: Job;
  outcome: JobOutcome;
  settled: Settled;
}

export type Settled = { ok: true; result: unknown } | { ok: false; error: unknown };

/** A job this worker runs now. */
export interface Running {
  job: Job;
  handler: HandlerDefinition | undefined;
  controller: AbortController;
  startedAt: number;
  timeout: NodeJS.Timeout | null;
  /** Set once the attempt has an outcome (or was given up); later settles are ignored. */
  done: boolean;
}

/** The job events of an attempt whose outcome is stored. */
export function announceFinished(
  events: TypedEmitter<SundialEvents>,
  worker: string,
  { job, outcome, settled }: Finished,
): void {
  const durationMs = outcome.finishedAt - outcome.record.startedAt;
  if (outcome.kind === 'completed') {
    if (events.has('job.completed')) {
      events.emit('job.completed', {
        job,
        result: settled.ok ? settled.result : null,
        durationMs,
        worker,
      });
    }
    return;
  }
  events.emit('job.failed', { job, error: outcome.error, durationMs, worker });
  if (outcome.kind === 'retry') {
    events.emit('job.retrying', {
      job,
      error: outcome.error,
      delayMs: outcome.runAt - outcome.finishedAt,
      runAt: outcome.runAt,
    });
  } else {
    events.emit('job.dead', { job, error: outcome.error });
  }
}

/** Why a run is aborted when its lease is gone. */
export function leaseLost(id: string): SundialError {
  return new SundialError('SUNDIAL_LEASE_LOST', `Job ${id} was cancelled or taken over by another run`);
}
