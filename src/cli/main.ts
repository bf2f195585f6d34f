#!/usr/bin/env node
/**
 * The `sundial` command. Thin: each command under `commands/` parses its arguments, calls
 * `sundial.admin` (or the library, to run work) and prints a table, or JSON with `--json`.
 * Errors print one line and exit 1.
 */
import { Command } from 'commander';
import { register as bulk } from './commands/bulk.ts';
import { register as dlq } from './commands/dlq.ts';
import { register as interrupt } from './commands/interrupt.ts';
import { register as job } from './commands/job.ts';
import { register as jobs } from './commands/jobs.ts';
import { register as list } from './commands/list.ts';
import { register as locks } from './commands/locks.ts';
import { register as maintenance } from './commands/maintenance.ts';
import { register as optimize } from './commands/optimize.ts';
import { register as prune } from './commands/prune.ts';
import { register as queues } from './commands/queues.ts';
import { register as run } from './commands/run.ts';
import { register as taskPause } from './commands/task-pause.ts';
import { register as test } from './commands/test.ts';
import { register as work } from './commands/work.ts';
import { mask } from './shell.ts';

const program = new Command('sundial')
  .description('Schedule, queue, run and watch background work.')
  .option('--db <path>', 'SQLite database file', process.env.SUNDIAL_DB ?? '.sundial/sundial.db')
  .option('--config <file>', 'config file (default: sundial.config.ts/.mjs/.js here)')
  .option('--json', 'print JSON instead of tables')
  .option('--allow-other-tables', "let --db add Sundial's tables to a database that holds other tables")
  .showHelpAfterError();

// In the order `sundial --help` lists them: jobs and queues, then tasks, then the rest.
for (const register of [
  queues,
  jobs,
  job,
  bulk,
  dlq,
  prune,
  work,
  list,
  taskPause,
  run,
  test,
  maintenance,
  locks,
  interrupt,
  optimize,
]) {
  register(program);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  // An error can echo a config value (a ping URL with its password): masked like everything printed.
  console.error(`sundial: ${mask(error instanceof Error ? error.message : String(error))}`);
  process.exitCode = 1;
});
