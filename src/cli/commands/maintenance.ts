import type { Command } from 'commander';
import { withSundial } from '../shell.ts';

/** `down` and `up`: the store-wide maintenance flag. */
export function register(program: Command): void {
  program
    .command('down')
    .description('maintenance mode: scheduled tasks skip unless marked evenInMaintenanceMode()')
    .option('--note <text>', 'why')
    .action((flags: { note?: string }, command: Command) =>
      withSundial(
        command,
        async ({ sundial }) => {
          await sundial.admin.maintenance.down(flags.note !== undefined ? { note: flags.note } : {});
          return 'maintenance mode on: tasks skip until `sundial up`';
        },
        { access: 'create', flags: { note: '--note' } },
      ),
    );

  program
    .command('up')
    .description('leave maintenance mode')
    .action((_options, command: Command) =>
      withSundial(command, async ({ sundial }) => {
        const { wasOn } = await sundial.admin.maintenance.up();
        return wasOn ? 'maintenance mode off' : 'maintenance mode was not on';
      }),
    );
}
