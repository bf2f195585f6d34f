import type { Command } from 'commander';
import { open, printable, reportRuns, startWorkers } from '../shell.ts';

/** `test <task>`: runs a task now, here, and prints its output. */
export function register(program: Command): void {
  program
    .command('test <task>')
    .description('run a task now and print its output (respects its lock unless --force)')
    .option('--force', "run even while another run holds the task's lock (beside it, leaving its lock alone)")
    .action(async (task: string, flags: { force?: boolean }, command: Command) => {
      const { sundial, config, tasks } = await open(command, { access: 'create', withTasks: true });
      try {
        sundial.scheduler(tasks, { ...config?.scheduler, autostart: false });
        // --force runs beside a live run, leaving its lock alone (see TaskRunPayload.force).
        const { jobId, duplicate } = await sundial.admin.schedules.trigger({
          task,
          force: flags.force === true,
        });
        if (duplicate)
          console.log(
            printable(`a run of ${task} is already waiting or running (job ${jobId}); waiting for it`),
          );
        startWorkers(sundial, tasks, config);
        const [job] = await sundial.admin.jobs.waitUntilFinished({ ids: [jobId] });
        console.log(printable(reportRuns([job!])));
        if (job!.state !== 'completed') process.exitCode = 1;
      } finally {
        await sundial.close();
      }
    });
}
