import type { Command } from 'commander';
import { formatTime, table } from '../format.ts';
import { withSundial } from '../shell.ts';

/** `locks` and `clear-locks [task]`. */
export function register(program: Command): void {
  program
    .command('locks')
    .description('list held locks: name, owner (host, pid, run), token, age of the last heartbeat')
    .option('--silent', 'print nothing; exit 1 when any lock is held (for scripts)')
    .action((flags: { silent?: boolean }, command: Command) =>
      withSundial(
        command,
        async ({ sundial, options: { json } }) => {
          const locks = await sundial.admin.locks.list();
          if (flags.silent) {
            if (locks.length > 0) process.exitCode = 1;
            return undefined;
          }
          if (json) return locks;
          if (locks.length === 0) return 'no locks held';
          const now = sundial.clock.now();
          return table(
            ['NAME', 'HOST', 'PID', 'RUN', 'TOKEN', 'ACQUIRED', 'HEARTBEAT', 'TTL'],
            locks.map((lock) => [
              lock.name,
              lock.owner.host,
              lock.owner.pid,
              lock.owner.runId,
              lock.token,
              formatTime(lock.acquiredAt),
              `${Math.round((now - lock.heartbeatAt) / 1000)}s ago`,
              `${Math.round(lock.ttlMs / 1000)}s`,
            ]),
          );
        },
        { access: 'read' },
      ),
    );

  program
    .command('clear-locks [task]')
    .description("release a task's lock (or every lock) whoever holds it")
    .action((task: string | undefined, _options, command: Command) =>
      withSundial(
        command,
        async ({ sundial }) => {
          const { cleared } = await sundial.admin.locks.clear(task === undefined ? {} : { task });
          return `cleared ${cleared} lock${cleared === 1 ? '' : 's'}`;
        },
        { flags: { task: '[task]' } },
      ),
    );
}
