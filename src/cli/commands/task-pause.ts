import type { Command } from 'commander';
import { withSundial } from '../shell.ts';

/** `pause <task>` and `resume <task>`, in every scheduler on the store. */
export function register(program: Command): void {
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    const command = program
      .command(`${name} <task>`)
      .description(paused ? 'stop firing a task (until resumed)' : 'fire a paused task again');
    if (paused) command.option('--note <text>', 'why (shown by list)');
    command.action((task: string, flags: { note?: string }, self: Command) =>
      withSundial(
        self,
        async ({ sundial }) => {
          const schedules = sundial.admin.schedules;
          await (paused
            ? schedules.pause({ task, ...(flags.note !== undefined ? { note: flags.note } : {}) })
            : schedules.resume({ task }));
          return `task ${task} ${paused ? 'paused' : 'resumed'}`;
        },
        { withTasks: 'if-config', defineTasks: true, flags: { note: '--note' } },
      ),
    );
  }
}
