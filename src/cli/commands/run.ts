import type { Command } from 'commander';
import { fireThisMinute, type LoadedTask } from '../../index.ts';
import { open, printable, reportRuns, startWorkers } from '../shell.ts';

/** `run`: for a system crontab, fires what is due this minute and (by default) waits for the runs. */
export function register(program: Command): void {
  program
    .command('run')
    .description('for a system crontab (* * * * * sundial run): fire what is due this minute, run it, wait')
    .option('--no-wait', 'fire and exit, leaving the runs to workers elsewhere')
    .option('--force', 'run every matching task now, whatever its schedule')
    .option('--tag <tag>', 'only tasks with this tag')
    .action(async (flags: { wait: boolean; force?: boolean; tag?: string }, command: Command) => {
      const { sundial, config, tasks: all } = await open(command, { access: 'create', withTasks: true });
      try {
        const tasks = all.filter((task) => !flags.tag || task.definition.tags.includes(flags.tag!));
        const fired: string[] = [];
        sundial.on('task.fired', ({ jobId }) => fired.push(jobId));
        const makeScheduler = (some: readonly LoadedTask[]) =>
          sundial.scheduler(some, { ...config?.scheduler, autostart: false });
        // The workers run while the minute's later occurrences are still being fired: each run starts
        // when it is due, not after the firing loop has ended (and its overlap check sees it done).
        if (flags.wait) startWorkers(sundial, tasks, config);
        if (flags.force) {
          const scheduler = makeScheduler(tasks);
          for (const task of tasks) await scheduler.trigger(task.definition.id);
        } else {
          await fireThisMinute(makeScheduler, tasks, sundial.clock);
        }
        if (!flags.wait) {
          console.log(`fired ${fired.length} run${fired.length === 1 ? '' : 's'}`);
          return;
        }
        if (fired.length === 0) return;
        const jobs = await sundial.admin.jobs.waitUntilFinished({ ids: fired });
        console.log(printable(reportRuns(jobs)));
        if (jobs.some((job) => job.state !== 'completed')) process.exitCode = 1;
      } finally {
        await sundial.close();
      }
    });
}
