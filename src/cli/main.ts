#!/usr/bin/env node
/**
 * The `sundial` command. Thin: parse, call the library, print (tables for people, `--json` for
 * machines). Errors print one line and exit 1.
 */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import {
  createSundial,
  isJobState,
  JOB_STATES,
  type Job,
  type JobState,
  parseDuration,
  type Sundial,
  SundialError,
} from '../index.ts';
import { formatTime, table } from './format.ts';

interface GlobalOptions {
  db: string;
  json?: boolean;
}

const program = new Command('sundial')
  .description('Schedule, queue, run and watch background work.')
  .option('--db <path>', 'SQLite database file', process.env.SUNDIAL_DB ?? '.sundial/sundial.db')
  .option('--json', 'print JSON instead of tables')
  .showHelpAfterError();

/** Runs `work` against a Sundial on the chosen store and always closes it. */
async function withSundial(
  command: Command,
  work: (sundial: Sundial, options: GlobalOptions) => Promise<unknown>,
) {
  const options = command.optsWithGlobals() as GlobalOptions;
  // Every command reads or changes jobs that exist: a mistyped --db must not create a new database.
  if (!existsSync(options.db)) {
    throw new SundialError(
      'SUNDIAL_NO_DATABASE',
      `No Sundial database at ${options.db} (set --db or SUNDIAL_DB)`,
    );
  }
  const sundial = createSundial({ store: { path: options.db } });
  try {
    const output = await work(sundial, options);
    if (output !== undefined) {
      console.log(options.json && typeof output !== 'string' ? JSON.stringify(output, null, 2) : output);
    }
  } finally {
    await sundial.close();
  }
}

function wholeNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text))
    throw new SundialError(
      'SUNDIAL_INVALID_OPTION',
      `Invalid ${flag}: ${JSON.stringify(text)} (a whole number)`,
    );
  return Number(text);
}

function jobLine(job: Job): (string | number)[] {
  return [
    job.id,
    job.name,
    job.state,
    job.attempt,
    job.priority,
    formatTime(job.runAt),
    job.error?.message ?? '',
  ];
}

program
  .command('queues')
  .description('list queues with their job counts')
  .action((_options, command: Command) =>
    withSundial(command, async (sundial, { json }) => {
      const queues = await sundial.store.listQueues();
      const rows = await Promise.all(
        queues.map(async (name) => ({
          name,
          paused: await sundial.queue(name).isPaused(),
          counts: await sundial.queue(name).counts(),
        })),
      );
      if (json) return rows;
      if (rows.length === 0) return 'no queues yet';
      return table(
        ['QUEUE', 'PAUSED', ...JOB_STATES.map((s) => s.toUpperCase())],
        rows.map((row) => [row.name, row.paused ? 'yes' : 'no', ...JOB_STATES.map((s) => row.counts[s])]),
      );
    }),
  );

program
  .command('jobs <queue>')
  .description('list jobs of a queue, newest first')
  .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
  .option('--limit <n>', 'how many', '20')
  .option('--offset <n>', 'skip this many', '0')
  .action((queue: string, options: { state?: string; limit: string; offset: string }, command: Command) =>
    withSundial(command, async (sundial, { json }) => {
      if (options.state !== undefined && !isJobState(options.state)) {
        throw new SundialError(
          'SUNDIAL_INVALID_OPTION',
          `Invalid --state: ${JSON.stringify(options.state)} (one of ${JOB_STATES.join(', ')})`,
        );
      }
      const jobs = await sundial.queue(queue).listJobs(options.state, {
        limit: wholeNumber('--limit', options.limit),
        offset: wholeNumber('--offset', options.offset),
        order: 'desc',
      });
      if (json) return jobs;
      if (jobs.length === 0) return 'no jobs';
      return table(
        ['ID', 'NAME', 'STATE', 'ATTEMPT', 'PRIORITY', 'RUN AT (UTC)', 'LAST ERROR'],
        jobs.map(jobLine),
      );
    }),
  );

program
  .command('job <queue> <id>')
  .description('show one job with its history')
  .action((queue: string, id: string, _options, command: Command) =>
    withSundial(command, async (sundial) => {
      const job = await sundial.queue(queue).getJob(id);
      if (!job) throw new SundialError('SUNDIAL_JOB_NOT_FOUND', `No job ${id} in queue ${queue}`);
      return JSON.stringify(job, null, 2);
    }),
  );

for (const [name, description] of [
  ['retry', 'run a failed, dead or cancelled job again now'],
  ['cancel', 'cancel a job that has not finished'],
  ['remove', 'delete a job that is not active'],
] as const) {
  program
    .command(`${name} <queue> <id>`)
    .description(description)
    .action((queue: string, id: string, _options, command: Command) =>
      withSundial(command, async (sundial, { json }) => {
        const job = await sundial.queue(queue)[name](id);
        return json ? job : `job ${job.id} (${job.name}): ${name === 'remove' ? 'removed' : job.state}`;
      }),
    );
}

program
  .command('pause-queue <queue>')
  .description('stop workers from claiming jobs of a queue')
  .action((queue: string, _options, command: Command) =>
    withSundial(command, async (sundial) => {
      await sundial.queue(queue).pause();
      return `queue ${queue} paused`;
    }),
  );

program
  .command('resume-queue <queue>')
  .description('let workers claim jobs of a paused queue again')
  .action((queue: string, _options, command: Command) =>
    withSundial(command, async (sundial) => {
      await sundial.queue(queue).resume();
      return `queue ${queue} resumed`;
    }),
  );

program
  .command('prune <queue>')
  .description('delete finished jobs older than a duration')
  .requiredOption('--older-than <duration>', 'e.g. 7d, 12h, 30m')
  .option('--state <states...>', 'finished states to prune', ['completed'])
  .action((queue: string, options: { olderThan: string; state: string[] }, command: Command) =>
    withSundial(command, async (sundial, { json }) => {
      const olderThan = parseDuration('--older-than', options.olderThan);
      const deleted = await sundial.queue(queue).prune({ olderThan, states: options.state as JobState[] });
      return json ? { deleted } : `deleted ${deleted} jobs`;
    }),
  );

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`sundial: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
