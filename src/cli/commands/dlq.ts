import type { Command } from 'commander';
import { addFilterFlags, FILTER_FLAG_NAMES, type FilterFlags, filterFrom } from '../filter-flags.ts';
import { type BulkFlags, runBulk } from '../progress.ts';
import { withSundial } from '../shell.ts';
import { jobPage } from './jobs.ts';

/** `dlq list|show|retry|purge`: the dead-letter queue of a queue. */
export function register(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter queue: jobs that failed for good');

  addFilterFlags(dlq.command('list <queue>').description('list the dead jobs of a queue, newest first'), {
    states: false,
  })
    .option('--limit <n>', 'how many (1 to 1000)', '20')
    .option('--cursor <cursor>', 'the page after this one (as a listing printed it)')
    .action((queue: string, flags: FilterFlags & { cursor?: string }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const page = await sundial.admin.dlq.list({
            queue,
            ...filterFrom(flags, sundial.clock.now(), { states: false }),
            ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
          });
          return json ? page : jobPage(page);
        },
        { access: 'read', flags: FILTER_FLAG_NAMES },
      ),
    );

  dlq
    .command('show <queue> <id>')
    .description('show one dead job: its error, dead-letter reason and attempts')
    .action((queue: string, id: string, _options, command: Command) =>
      withSundial(command, ({ sundial }) => sundial.admin.dlq.show({ queue, id }), { access: 'read' }),
    );

  addFilterFlags(
    dlq
      .command('retry <queue> [id]')
      .description('run one dead job again, or (without an id) every dead job matching the filter'),
    { states: false },
  )
    .option('--limit <n>', 'at most this many jobs')
    .option('--dry-run', 'only count them')
    .option('--yes', 'do not ask')
    .action((queue: string, id: string | undefined, flags: FilterFlags & BulkFlags, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          if (id !== undefined) {
            const job = await sundial.admin.dlq.retry({ queue, id });
            return json ? job : `job ${job.id} (${job.name}): ${job.state}`;
          }
          const filter = filterFrom(flags, sundial.clock.now(), { states: false });
          return runBulk(
            sundial,
            (dryRun) => sundial.admin.dlq.retryAll({ queue, ...filter, dryRun }),
            { verb: 'retry', past: 'retried', what: `dead in ${queue}`, json },
            flags,
          );
        },
        { flags: FILTER_FLAG_NAMES },
      ),
    );

  addFilterFlags(
    dlq.command('purge <queue>').description('delete the dead jobs of a queue matching the filter'),
    {
      states: false,
    },
  )
    .option('--limit <n>', 'at most this many jobs')
    .option('--dry-run', 'only count them')
    .option('--yes', 'do not ask')
    .action((queue: string, flags: FilterFlags & BulkFlags, command: Command) =>
      withSundial(
        command,
        ({ sundial, options: { json } }) => {
          const filter = filterFrom(flags, sundial.clock.now(), { states: false });
          return runBulk(
            sundial,
            (dryRun) => sundial.admin.dlq.purge({ queue, ...filter, dryRun }),
            { verb: 'delete', past: 'deleted', what: `dead in ${queue}`, json },
            flags,
          );
        },
        { flags: FILTER_FLAG_NAMES },
      ),
    );
}
