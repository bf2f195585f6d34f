import type { Command } from 'commander';
import { parseDuration } from '../../index.ts';
import { withSundial } from '../shell.ts';

/** `prune <queue>`: deletes finished jobs older than a duration. */
export function register(program: Command): void {
  program
    .command('prune <queue>')
    .description('delete finished jobs older than a duration')
    .requiredOption('--older-than <duration>', 'e.g. 7d, 12h, 30m')
    .option('--state <states...>', 'finished states to prune', ['completed'])
    .action((queue: string, flags: { olderThan: string; state: string[] }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const olderThan = parseDuration('--older-than', flags.olderThan);
          const { deleted } = await sundial.admin.jobs.prune({ queue, olderThan, states: flags.state });
          return json ? { deleted } : `deleted ${deleted} jobs`;
        },
        { flags: { states: '--state' } },
      ),
    );
}
