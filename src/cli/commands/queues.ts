import type { Command } from 'commander';
import { JOB_STATES } from '../../index.ts';
import { table } from '../format.ts';
import { runBulk } from '../progress.ts';
import { withSundial } from '../shell.ts';

/** `queues`, `pause-queue`, `resume-queue`, `drain`, `obliterate`. */
export function register(program: Command): void {
  program
    .command('queues')
    .description('list queues with their job counts')
    .action((_options, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const rows = await sundial.admin.queues.list();
          if (json) return rows;
          if (rows.length === 0) return 'no queues yet';
          return table(
            ['QUEUE', 'PAUSED', ...JOB_STATES.map((s) => s.toUpperCase())],
            rows.map((row) => [row.name, row.paused ? 'yes' : 'no', ...JOB_STATES.map((s) => row.counts[s])]),
          );
        },
        { access: 'read' },
      ),
    );

  for (const [name, paused] of [
    ['pause-queue', true],
    ['resume-queue', false],
  ] as const) {
    program
      .command(`${name} <queue>`)
      .description(
        paused
          ? 'stop workers from claiming jobs of a queue'
          : 'let workers claim jobs of a paused queue again',
      )
      .action((queue: string, _options, command: Command) =>
        withSundial(command, async ({ sundial }) => {
          await (paused ? sundial.admin.queues.pause({ queue }) : sundial.admin.queues.resume({ queue }));
          return `queue ${queue} ${paused ? 'paused' : 'resumed'}`;
        }),
      );
  }

  program
    .command('drain <queue>')
    .description('delete the waiting and delayed jobs of a queue (running and finished ones stay)')
    .option('--dry-run', 'only count them')
    .option('--yes', 'do not ask')
    .action((queue: string, flags: { dryRun?: boolean; yes?: boolean }, command: Command) =>
      withSundial(command, ({ sundial, options: { json } }) =>
        runBulk(
          sundial,
          (dryRun) => sundial.admin.queues.drain({ queue, dryRun }),
          { verb: 'delete', past: 'deleted', what: `waiting or delayed in ${queue}`, json },
          flags,
        ),
      ),
    );

  program
    .command('obliterate <queue>')
    .description('delete a queue: every job of it and its pause flag')
    .requiredOption('--confirm <queue>', "the queue's name again")
    .option('--force', 'cancel its running jobs first (their workers are told at once)')
    .action((queue: string, flags: { confirm: string; force?: boolean }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const started = await sundial.admin.queues.obliterate({
            queue,
            confirm: flags.confirm,
            force: flags.force === true,
          });
          const done = await sundial.admin.operations.wait(started.id);
          if (done.state === 'failed') throw new Error(done.error ?? 'obliterate failed');
          return json ? done : `queue ${queue} obliterated: ${done.changed} jobs deleted`;
        },
        { flags: { confirm: '--confirm' } },
      ),
    );
}
