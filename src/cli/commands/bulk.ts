import type { Command } from 'commander';
import { addFilterFlags, FILTER_FLAG_NAMES, type FilterFlags, filterFrom } from '../filter-flags.ts';
import { type BulkFlags, runBulk } from '../progress.ts';
import { withSundial } from '../shell.ts';

const WORDS = {
  retry: 'retried',
  cancel: 'cancelled',
  remove: 'deleted',
  promote: 'promoted',
} as const;

/** `bulk <action> <queue>`: one action on every job matching a filter, with a preview and progress. */
export function register(program: Command): void {
  addFilterFlags(
    program
      .command('bulk <action> <queue>')
      .description(
        'retry, cancel, remove or promote every job of a queue matching a filter (counts first; asks, or --yes)',
      ),
  )
    .option('--limit <n>', 'at most this many jobs')
    .option('--dry-run', 'only count them')
    .option('--yes', 'do not ask')
    .action((action: string, queue: string, flags: FilterFlags & BulkFlags, command: Command) =>
      withSundial(
        command,
        ({ sundial, options: { json } }) => {
          const { limit, ...filter } = filterFrom(flags, sundial.clock.now());
          return runBulk(
            sundial,
            (dryRun) =>
              sundial.admin.jobs.bulk({
                action,
                filter: { queue, ...filter },
                ...(limit !== undefined ? { limit } : {}),
                dryRun,
              }),
            { verb: action, past: WORDS[action as keyof typeof WORDS] ?? action, what: `in ${queue}`, json },
            flags,
          );
        },
        { flags: { ...FILTER_FLAG_NAMES, action: '<action>' } },
      ),
    );
}
