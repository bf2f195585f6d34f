import type { Command } from 'commander';
import { withSundial } from '../shell.ts';

/** `job <queue> <id>`, and one job's actions: `retry`, `cancel`, `remove`, `promote`. */
export function register(program: Command): void {
  program
    .command('job <queue> <id>')
    .description('show one job with its attempts')
    .action((queue: string, id: string, _options, command: Command) =>
      withSundial(
        command,
        ({ sundial }) => sundial.admin.jobs.get({ queue, id }), // printed as JSON, with or without --json
        { access: 'read' },
      ),
    );

  for (const [action, description] of [
    ['retry', 'run a failed, dead or cancelled job again now'],
    ['cancel', 'cancel a job that has not finished (a running one is aborted at once)'],
    ['remove', 'delete a job that is not active'],
    ['promote', 'run a delayed job now'],
  ] as const) {
    program
      .command(`${action} <queue> <id>`)
      .description(description)
      .action((queue: string, id: string, _options, command: Command) =>
        withSundial(command, async ({ sundial, options: { json } }) => {
          const job = await sundial.admin.jobs[action]({ queue, id });
          return json ? job : `job ${job.id} (${job.name}): ${action === 'remove' ? 'removed' : job.state}`;
        }),
      );
  }
}
