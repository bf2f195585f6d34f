import type { Job, SundialEvents, TypedEmitter } from '../core/index.ts';

/** The events of one task run, told apart from plain job events by the job's origin. */
export const TASK_RUN_EVENTS = [
  'task.starting',
  'task.finished',
  'task.failed',
  'task.retrying',
  'task.interrupted',
] as const;

export type TaskRunEventName = (typeof TASK_RUN_EVENTS)[number];

export function isTaskRunEvent(name: string): name is TaskRunEventName {
  return (TASK_RUN_EVENTS as readonly string[]).includes(name);
}

/** Events that need the bridge: the run events, and skips, which a task runner may also report. */
export function needsTaskEventBridge(name: string): boolean {
  return isTaskRunEvent(name) || name === 'task.skipped';
}

/**
 * Tells task runs' lifecycle as task events, from the job events of jobs that a schedule fired
 * (every task kind, job tasks included, since each run is a job). Installed only once someone
 * listens to a task-run event: until then workers skip building job events nobody reads.
 */
export function bridgeTaskEvents(events: TypedEmitter<SundialEvents>): void {
  const about = (job: Job) =>
    job.origin ? { taskId: job.origin.schedule, runId: job.id, scheduledFor: job.origin.scheduledFor } : null;
  events.on('job.started', ({ job }) => {
    const run = about(job);
    if (run) events.emit('task.starting', { ...run, attempt: job.attempt });
  });
  events.on('job.completed', ({ job, result, durationMs }) => {
    const run = about(job);
    if (!run) return;
    const { output, skipped } = (result ?? {}) as { output?: unknown; skipped?: unknown };
    // Only the task runner's own result says skipped; a job task's handler may return anything.
    const ranByTaskRunner =
      job.name === 'task' && (job.payload as { taskId?: unknown })?.taskId === run.taskId;
    if (ranByTaskRunner && typeof skipped === 'string') {
      // The task runner found another run holding the task's lock: nothing ran.
      events.emit('task.skipped', { taskId: run.taskId, scheduledFor: run.scheduledFor, reason: 'overlap' });
      return;
    }
    events.emit('task.finished', { ...run, durationMs, output: typeof output === 'string' ? output : null });
  });
  events.on('job.retrying', ({ job, error, runAt }) => {
    const run = about(job);
    if (run) events.emit('task.retrying', { ...run, error, runAt });
  });
  events.on('job.dead', ({ job, error }) => {
    const run = about(job);
    if (run) events.emit('task.failed', { ...run, error });
  });
  events.on('job.interrupted', ({ job }) => {
    const run = about(job);
    if (run) events.emit('task.interrupted', run);
  });
}
