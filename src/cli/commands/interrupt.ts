import type { Command } from 'commander';
import { waitUntilStopped } from '../../index.ts';
import { wholeNumber, withSundial } from '../shell.ts';

/** `interrupt <run>`: stops one run without stopping the daemon running it. */
export function register(program: Command): void {
  program
    .command('interrupt <run>')
    .description('stop one run (a run id, or the pid of its command) without stopping the daemon running it')
    .option('--wait <ms>', 'how long to wait for it to stop', '10000')
    .action((target: string, flags: { wait: string }, command: Command) =>
      withSundial(command, async ({ sundial, options: { json } }) => {
        const waitMs = wholeNumber('--wait', flags.wait);
        const run = await sundial.interrupt(target);
        const stopped = await waitUntilStopped(sundial, run, waitMs);
        if (json) return { ...run, stopped };
        const what = `run ${run.runId}${run.taskId ? ` of task ${run.taskId}` : ` in queue ${run.queue}`}`;
        const by = run.pid === null ? '' : ` (pid ${run.pid})`;
        if (stopped === null) return `interrupted ${what}${by}; its worker aborts it`;
        return stopped
          ? `interrupted ${what}${by}`
          : `interrupted ${what}${by}; it has not stopped yet (its worker was told to abort it)`;
      }),
    );
}
