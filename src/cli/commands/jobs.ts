import type { Command } from 'commander';
import type { Job } from '../../index.ts';
import { addFilterFlags, FILTER_FLAG_NAMES, type FilterFlags, filterFrom } from '../filter-flags.ts';
import { formatTime, table } from '../format.ts';
import { withSundial } from '../shell.ts';

export function jobLine(job: Job): (string | number)[] {
  return [
    job.id,
    job.name,
    job.origin?.schedule ?? '',
    job.state,
    job.attempt,
    job.priority,
    formatTime(job.runAt),
    job.error?.message ?? '',
  ];
}

export const JOB_HEADERS = [
  'ID',
  'NAME',
  'TASK',
  'STATE',
  'ATTEMPT',
  'PRIORITY',
  'RUN AT (UTC)',
  'LAST ERROR',
];

/**
 * A page of jobs as a table, with how many match and how to get the next page. A page may be empty
 * and still have a next one (on Redis, a search that looked at its share of a large queue).
 */
export function jobPage(page: {
  jobs: Job[];
  next: string | null;
  total: { count: number; exact: boolean };
}): string {
  const more = page.next ? `next page: --cursor ${page.next}` : '';
  if (page.jobs.length === 0) return more ? `no matching jobs on this page; ${more}` : 'no jobs';
  const total = `${page.total.exact ? '' : 'at least '}${page.total.count}`;
  return `${table(JOB_HEADERS, page.jobs.map(jobLine))}\n\n${page.jobs.length} of ${total}${more ? `; ${more}` : ''}`;
}

/** `jobs <queue>`: a page of a queue's jobs by filter, newest first. */
export function register(program: Command): void {
  addFilterFlags(
    program
      .command('jobs <queue>')
      .description('list jobs of a queue by filter, newest first, a page at a time'),
  )
    .option('--limit <n>', 'how many (1 to 1000)', '20')
    .option('--cursor <cursor>', 'the page after this one (as a listing printed it)')
    .option('--order <order>', 'desc (newest first) or asc', 'desc')
    .action((queue: string, flags: FilterFlags & { cursor?: string; order: string }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const page = await sundial.admin.jobs.list({
            queue,
            ...filterFrom(flags, sundial.clock.now()),
            ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
            order: flags.order,
          });
          return json ? page : jobPage(page);
        },
        { access: 'read', flags: FILTER_FLAG_NAMES },
      ),
    );
}
