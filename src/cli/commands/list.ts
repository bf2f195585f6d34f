import type { Command } from 'commander';
import { formatTime, table } from '../format.ts';
import { withSundial } from '../shell.ts';

function countdown(ms: number): string {
  if (ms <= 0) return 'due';
  const seconds = Math.round(ms / 1000);
  const parts = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor((seconds % 86_400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ] as const;
  const shown = parts.filter(([value]) => value > 0).slice(0, 2);
  return `in ${shown.length ? shown.map(([value, unit]) => `${value}${unit}`).join(' ') : '0s'}`;
}

/** `list`: the config's scheduled tasks with their next and last run. */
export function register(program: Command): void {
  program
    .command('list')
    .description('list the scheduled tasks: frequency, next run, last run, state')
    .option('--verbose', 'add the next 5 runs')
    .action((flags: { verbose?: boolean }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const all = await sundial.admin.schedules.list({ upcoming: flags.verbose ? 5 : 0 });
          // The config's tasks; tasks recorded in the store that it no longer defines are left out.
          const rows = all.filter((row) => row.defined).map(({ defined: _defined, ...row }) => row);
          if (json) return rows;
          if (rows.length === 0) return 'no tasks';
          const now = sundial.clock.now();
          const text = table(
            ['ID', 'FREQUENCY', 'EXPRESSION', 'TZ', 'NEXT RUN', 'LAST RUN', 'LAST STATUS', 'STATE', 'TAGS'],
            rows.map((row) => [
              row.id,
              row.frequency ?? '-',
              row.expression ?? '-',
              row.timezone ?? '-',
              row.nextRunAt === null
                ? row.paused
                  ? '-'
                  : 'never'
                : `${formatTime(row.nextRunAt)} (${countdown(row.nextRunAt - now)})`,
              formatTime(row.lastRunAt),
              row.lastStatus ?? '-',
              row.paused ? `paused${row.note ? `: ${row.note}` : ''}` : 'active',
              row.tags.join(','),
            ]),
          );
          if (!flags.verbose) return text;
          const upcoming = rows.map(
            (row) => `${row.id}: ${(row.upcoming ?? []).map((t) => formatTime(t)).join(', ')}`,
          );
          return `${text}\n\nnext runs:\n${upcoming.join('\n')}`;
        },
        { access: 'read', withTasks: true, defineTasks: true },
      ),
    );
}
