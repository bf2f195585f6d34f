import type { Command } from 'commander';
import type { Job } from '../../index.ts';
import { mask, open, taskQueueOf, taskRunnerOptions } from '../shell.ts';

/** How `work` names a job in its log: a task's run by its task, a job by its queue, id and name. */
function jobLabel(job: Job, taskQueue: string): string {
  const task = job.origin?.schedule;
  if (job.queue === taskQueue && task) return `${task} (run ${job.id})`;
  return `${job.queue}#${job.id} ${job.name}${task ? ` (task ${task})` : ''}`;
}

/** `work`: the config's scheduler and workers, until stopped. */
export function register(program: Command): void {
  program
    .command('work')
    .description('run the scheduler and workers of the config until stopped (Ctrl-C drains)')
    .option('--no-scheduler', 'run workers only')
    .option('--no-worker', 'run the scheduler only')
    .action(async (flags: { scheduler: boolean; worker: boolean }, command: Command) => {
      const { sundial, config, tasks } = await open(command, { access: 'create', withTasks: true });
      const line = (text: string) =>
        console.log(`${new Date(sundial.clock.now()).toISOString()}  ${mask(text)}`);
      const taskQueue = taskQueueOf(config);
      const label = (job: Job) => jobLabel(job, taskQueue);
      // Everything is made first, nothing started: whatever is refused is refused before anything runs.
      const started: { start(): unknown }[] = [];
      try {
        if (flags.worker) {
          started.push(sundial.taskWorker(tasks, { ...taskRunnerOptions(config), autostart: false }));
          for (const [queue, { handlers, options }] of Object.entries(config?.workers ?? {})) {
            started.push(sundial.worker(queue, handlers, { ...options, autostart: false }));
          }
        }
        if (flags.scheduler)
          started.push(sundial.scheduler(tasks, { ...config?.scheduler, autostart: false }));
      } catch (error) {
        await sundial.close();
        throw error;
      }
      sundial.on('task.fired', ({ taskId, scheduledFor, catchUp }) =>
        line(
          `fired     ${taskId} for ${new Date(scheduledFor).toISOString()}${catchUp ? ' (catch-up)' : ''}`,
        ),
      );
      sundial.on('task.skipped', ({ taskId, reason }) => line(`skipped   ${taskId}: ${reason}`));
      sundial.on('job.completed', ({ job, result, durationMs }) => {
        const skipped = job.queue === taskQueue ? (result as { skipped?: unknown } | null)?.skipped : null;
        if (typeof skipped === 'string') line(`skipped   ${label(job)}: ${skipped}`);
        else line(`completed ${label(job)} in ${durationMs} ms`);
      });
      sundial.on('job.failed', ({ job, error }) =>
        line(`failed    ${label(job)}: ${error.message.split('\n')[0]}`),
      );
      sundial.on('job.retrying', ({ job, delayMs }) => line(`retrying  ${label(job)} in ${delayMs} ms`));
      sundial.on('job.dead', ({ job }) => line(`dead      ${label(job)}: in the dead-letter queue`));
      sundial.on('error', ({ error, context }) =>
        line(`error     ${context}: ${error instanceof Error ? error.message : String(error)}`),
      );
      for (const part of started) part.start();
      line(
        `sundial work: ${tasks.length} tasks, ${flags.scheduler ? 'scheduler' : 'no scheduler'}, ${
          flags.worker
            ? `workers for ${[taskQueue, ...Object.keys(config?.workers ?? {})].join(', ')}`
            : 'no workers'
        }`,
      );
      sundial.closeOnSignals({
        onSignal: (signal) => line(`${signal}: finishing running jobs (again to exit at once)`),
      });
    });
}
