#!/usr/bin/env node
/**
 * The `sundial` command. Thin: parse, call the library, print (tables for people, `--json` for
 * machines). Errors print one line and exit 1.
 */
import { existsSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { Command } from 'commander';
import {
  CONFIG_FILES,
  clearRegistryCache,
  createSundial,
  DEFAULT_TASK_QUEUE,
  defaultMasker,
  describeValue,
  isJobState,
  JOB_STATES,
  type Job,
  type JobState,
  type LoadedTask,
  loadConfig,
  MAINTENANCE_FLAG,
  Masker,
  optimizeRegistry,
  parseDuration,
  type Schedule,
  type Scheduler,
  type Sundial,
  type SundialConfig,
  SundialError,
  scheduleFromConfig,
  waitUntilStopped,
} from '../index.ts';
import { formatTime, table } from './format.ts';

interface GlobalOptions {
  db: string;
  config?: string;
  json?: boolean;
  allowOtherTables?: boolean;
}

const program = new Command('sundial')
  .description('Schedule, queue, run and watch background work.')
  .option('--db <path>', 'SQLite database file', process.env.SUNDIAL_DB ?? '.sundial/sundial.db')
  .option('--config <file>', 'config file (default: sundial.config.ts/.mjs/.js here)')
  .option('--json', 'print JSON instead of tables')
  .option('--allow-other-tables', "let --db add Sundial's tables to a database that holds other tables")
  .showHelpAfterError();

/** Masks secrets in derived task ids and in what the CLI prints: the config's rules once it is loaded. */
let masker: Masker = defaultMasker;

/**
 * How a command uses the store: `read` looks (a configured SQLite store not made yet reads as
 * empty, and no file is created), `write` changes what is there, `create` may make the store.
 */
type Access = 'read' | 'write' | 'create';

interface OpenOptions {
  access?: Access;
  /**
   * Load (and so validate) the config's tasks, before anything about the store is said;
   * `'if-config'` does so only when there is a config.
   */
  withTasks?: boolean | 'if-config';
}

/**
 * The Sundial a command works on: the config's store when there is a config (and no --db or
 * SUNDIAL_DB), else the SQLite file at --db. A SQLite path given by --db or SUNDIAL_DB where there
 * is no database is refused, rather than created at a mistyped path, unless the command creates.
 */
async function open(command: Command, { access = 'write', withTasks = false }: OpenOptions = {}) {
  const options = command.optsWithGlobals() as GlobalOptions;
  const loaded = await loadConfig(options.config);
  masker = new Masker(loaded?.config.mask, 'mask');
  // A broken config is the first thing to hear about, before anything about the store.
  const tasks =
    withTasks === true || (withTasks === 'if-config' && loaded)
      ? (await scheduleOf(loaded)).load({ masker })
      : [];
  const dbChosen = program.getOptionValueSource('db') !== 'default';
  let store =
    dbChosen || !loaded?.config.store
      ? { path: options.db, ...(options.allowOtherTables ? { allowOtherTables: true } : {}) }
      : loaded.config.store;
  const path = (store as { path?: unknown }).path;
  if (access !== 'create' && typeof path === 'string' && path !== ':memory:' && !existsSync(path)) {
    if (access === 'read' && loaded && !dbChosen) {
      // The config's own store, before anything made it: what it holds is nothing yet.
      store = { path: ':memory:' };
    } else {
      throw new SundialError(
        'SUNDIAL_NO_DATABASE',
        `No Sundial database at ${path} (set --db, SUNDIAL_DB or a config)`,
      );
    }
  }
  const sundial = createSundial({ store, mask: loaded?.config.mask });
  return { sundial, config: loaded?.config ?? null, options, tasks };
}

/** Runs `work` against a Sundial on the chosen store, prints what it returns, and closes it. */
async function withSundial(
  command: Command,
  work: (sundial: Sundial, options: GlobalOptions, tasks: LoadedTask[]) => Promise<unknown>,
  openOptions: OpenOptions = {},
) {
  const { sundial, options, tasks } = await open(command, openOptions);
  try {
    const output = await work(sundial, options, tasks);
    if (output !== undefined) console.log(printable(output));
  } finally {
    await sundial.close();
  }
}

/**
 * What the CLI prints, secrets masked: text as it is, anything else as JSON of masked values (the
 * same shape, still valid JSON). Jobs stored by a Sundial older than its masking, or before a rule
 * was added, are masked here too.
 */
function printable(output: unknown): string {
  return typeof output === 'string' ? masker.mask(output) : JSON.stringify(masker.maskValue(output), null, 2);
}

/** The loaded config; refuses a command that needs one when there is none. */
function required(loaded: { path: string; config: SundialConfig } | null) {
  if (!loaded) {
    throw new SundialError(
      'SUNDIAL_NO_CONFIG',
      `No config: add ${CONFIG_FILES[0]} here or pass --config <file>`,
    );
  }
  return loaded;
}

/** The config's tasks (its `schedule` function's and its task folders'), not yet loaded. */
function scheduleOf(loaded: { path: string; config: SundialConfig } | null): Promise<Schedule> {
  return scheduleFromConfig(required(loaded), {
    onStaleCache: (message) => console.error(`sundial: ${message}`),
  });
}

/** A task's latest run in a word: its job's state, or `skipped` when the task runner skipped it. */
function runStatus(job: Job | undefined): string | null {
  if (!job) return null;
  const skipped = job.state === 'completed' && (job.result as { skipped?: unknown } | null)?.skipped;
  return skipped ? 'skipped' : job.state;
}

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

/** A note is stored as text on every engine: short, and without NUL or half a surrogate pair. */
function checkNote(note: string): string {
  if (note.length > 1000 || note.includes('\0') || !note.isWellFormed()) {
    throw new SundialError(
      'SUNDIAL_INVALID_OPTION',
      `Invalid --note: ${describeValue(note)} (text of at most 1000 characters, without NUL or half a surrogate pair)`,
    );
  }
  return note;
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
    job.origin?.schedule ?? '',
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
    withSundial(
      command,
      async (sundial, { json }) => {
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
      },
      { access: 'read' },
    ),
  );

program
  .command('jobs <queue>')
  .description('list jobs of a queue, newest first')
  .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
  .option('--limit <n>', 'how many', '20')
  .option('--offset <n>', 'skip this many', '0')
  .action((queue: string, options: { state?: string; limit: string; offset: string }, command: Command) =>
    withSundial(
      command,
      async (sundial, { json }) => {
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
          ['ID', 'NAME', 'TASK', 'STATE', 'ATTEMPT', 'PRIORITY', 'RUN AT (UTC)', 'LAST ERROR'],
          jobs.map(jobLine),
        );
      },
      { access: 'read' },
    ),
  );

program
  .command('job <queue> <id>')
  .description('show one job with its history')
  .action((queue: string, id: string, _options, command: Command) =>
    withSundial(
      command,
      async (sundial) => {
        const job = await sundial.queue(queue).getJob(id);
        if (!job) throw new SundialError('SUNDIAL_JOB_NOT_FOUND', `No job ${id} in queue ${queue}`);
        return job; // printed as JSON, with or without --json
      },
      { access: 'read' },
    ),
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

/** The queue the config's scheduler fires task runs into. */
function taskQueueOf(config: SundialConfig | null): string {
  return config?.scheduler?.taskQueue ?? DEFAULT_TASK_QUEUE;
}

/** The config's task runner, on the queue its scheduler fires into. */
function taskRunnerOptions(config: SundialConfig | null) {
  return { ...config?.taskRunner, taskQueue: taskQueueOf(config) };
}

/** Fires what comes due, sleeping in between, until the next occurrence is at `until` or later. */
async function fireUntil(scheduler: Scheduler, until: number): Promise<void> {
  for (;;) {
    await scheduler.tick();
    const next = scheduler.nextDueAt();
    if (next === null || next >= until) return;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
}

/**
 * How far into the next minute `sundial run` keeps firing: cron (Debian's, Vixie's) starts a
 * minute's job about a second after the minute, and the next run needs a moment to start.
 */
const RUN_HANDOVER_MS = 3000;

/** How `work` names a job in its log: a task's run by its task, a job by its queue, id and name. */
function jobLabel(job: Job, taskQueue: string): string {
  const task = job.origin?.schedule;
  if (job.queue === taskQueue && task) return `${task} (run ${job.id})`;
  return `${job.queue}#${job.id} ${job.name}${task ? ` (task ${task})` : ''}`;
}

program
  .command('work')
  .description('run the scheduler and workers of the config until stopped (Ctrl-C drains)')
  .option('--no-scheduler', 'run workers only')
  .option('--no-worker', 'run the scheduler only')
  .action(async (options: { scheduler: boolean; worker: boolean }, command: Command) => {
    const { sundial, config, tasks } = await open(command, { access: 'create', withTasks: true });
    const line = (text: string) => console.log(`${new Date().toISOString()}  ${masker.mask(text)}`);
    const taskQueue = taskQueueOf(config);
    const label = (job: Job) => jobLabel(job, taskQueue);
    // Everything is made first, nothing started: whatever is refused is refused before anything runs.
    const started: { start(): unknown }[] = [];
    try {
      if (options.worker) {
        started.push(sundial.taskWorker(tasks, { ...taskRunnerOptions(config), autostart: false }));
        for (const [queue, { handlers, options: workerOptions }] of Object.entries(config?.workers ?? {})) {
          started.push(sundial.worker(queue, handlers, { ...workerOptions, autostart: false }));
        }
      }
      if (options.scheduler)
        started.push(sundial.scheduler(tasks, { ...config?.scheduler, autostart: false }));
    } catch (error) {
      await sundial.close();
      throw error;
    }
    sundial.on('task.fired', ({ taskId, scheduledFor, catchUp }) =>
      line(`fired     ${taskId} for ${new Date(scheduledFor).toISOString()}${catchUp ? ' (catch-up)' : ''}`),
    );
    sundial.on('task.skipped', ({ taskId, reason }) => line(`skipped   ${taskId}: ${reason}`));
    sundial.on('job.completed', ({ job, result, durationMs }) => {
      const skipped = job.queue === taskQueue ? (result as { skipped?: unknown } | null)?.skipped : null;
      if (typeof skipped === 'string') line(`skipped   ${label(job)}: ${skipped}`);
      else line(`completed ${label(job)} in ${durationMs} ms`);
    });
    sundial.on('job.failed', ({ job, error }) =>
      line(`failed    ${label(job)}: ${error.message.split('\n')[0]}`),
    );
    sundial.on('error', ({ error, context }) =>
      line(`error     ${context}: ${error instanceof Error ? error.message : String(error)}`),
    );
    for (const part of started) part.start();
    line(
      `sundial work: ${tasks.length} tasks, ${options.scheduler ? 'scheduler' : 'no scheduler'}, ${
        options.worker
          ? `workers for ${[taskQueue, ...Object.keys(config?.workers ?? {})].join(', ')}`
          : 'no workers'
      }`,
    );
    sundial.closeOnSignals({
      onSignal: (signal) => line(`${signal}: finishing running jobs (again to exit at once)`),
    });
  });

program
  .command('list')
  .description('list the scheduled tasks: frequency, next run, last run, state')
  .option('--verbose', 'add the next 5 runs')
  .action((options: { verbose?: boolean }, command: Command) =>
    withSundial(
      command,
      async (sundial, { json }, tasks) => {
        const records = new Map((await sundial.store.listSchedules()).map((record) => [record.id, record]));
        const latest = await sundial.store.latestRuns();
        const now = Date.now();
        const rows = tasks.map(({ definition, cron, frequency }) => {
          const record = records.get(definition.id);
          const paused = record?.paused ?? false;
          // A paused task has no next run: resuming counts one from then.
          const next = paused ? null : record ? record.nextRunAt : cron.next(now);
          const lastRun = latest.get(definition.id);
          return {
            id: definition.id,
            frequency,
            expression: definition.schedule.expression,
            timezone: definition.schedule.timezone ?? 'local',
            nextRunAt: next,
            // The latest run (fired, or started by hand), not the latest fire: a skipped or missed
            // occurrence ran nothing.
            lastRunAt: lastRun ? (lastRun.startedAt ?? lastRun.createdAt) : null,
            lastStatus: runStatus(lastRun),
            paused,
            note: record?.note ?? null,
            tags: definition.tags,
            ...(options.verbose ? { upcoming: cron.upcoming(5, now) } : {}),
          };
        });
        if (json) return rows;
        if (rows.length === 0) return 'no tasks';
        const text = table(
          ['ID', 'FREQUENCY', 'EXPRESSION', 'TZ', 'NEXT RUN', 'LAST RUN', 'LAST STATUS', 'STATE', 'TAGS'],
          rows.map((row) => [
            row.id,
            row.frequency,
            row.expression,
            row.timezone,
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
        if (!options.verbose) return text;
        const upcoming = rows.map(
          (row) => `${row.id}: ${(row.upcoming ?? []).map((t) => formatTime(t)).join(', ')}`,
        );
        return `${text}\n\nnext runs:\n${upcoming.join('\n')}`;
      },
      { access: 'read', withTasks: true },
    ),
  );

for (const [name, paused] of [
  ['pause', true],
  ['resume', false],
] as const) {
  program
    .command(`${name} <task>`)
    .description(paused ? 'stop firing a task (until resumed)' : 'fire a paused task again')
    .option('--note <text>', 'why (shown by list)')
    .action((task: string, options: { note?: string }, command: Command) =>
      withSundial(
        command,
        async (sundial, _options, tasks) => {
          const note = options.note === undefined ? null : checkNote(options.note);
          const now = Date.now();
          // Resuming counts the next run from now, so the paused time is not replayed as misfires.
          const definition = tasks.find((t) => t.definition.id === task);
          const resumeAt = !paused && definition ? definition.cron.next(now - 1) : undefined;
          const changed = await sundial.store.setSchedulePaused(task, paused, note, now, resumeAt);
          if (!changed) {
            throw new SundialError(
              'SUNDIAL_NO_SCHEDULE',
              `No task ${JSON.stringify(task)} in the store (its scheduler records it when it starts)`,
            );
          }
          return `task ${task} ${paused ? 'paused' : 'resumed'}`;
        },
        { withTasks: 'if-config' },
      ),
    );
}

/** Waits until every job is finished; returns them. */
async function settle(sundial: Sundial, jobIds: readonly string[]): Promise<Job[]> {
  const finished = new Map<string, Job>();
  while (finished.size < jobIds.length) {
    for (const id of jobIds) {
      if (finished.has(id)) continue;
      const job = await sundial.store.getJob(id);
      if (job && ['completed', 'dead', 'cancelled'].includes(job.state)) finished.set(id, job);
    }
    if (finished.size < jobIds.length) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return jobIds.map((id) => finished.get(id)!);
}

/** Starts the workers a config defines: the task runner and each queue's workers. */
function startWorkers(
  sundial: Sundial,
  tasks: ReturnType<Schedule['load']>,
  config: SundialConfig | null,
): void {
  sundial.taskWorker(tasks, taskRunnerOptions(config));
  for (const [queue, { handlers, options }] of Object.entries(config?.workers ?? {}))
    sundial.worker(queue, handlers, options);
}

function reportRuns(jobs: readonly Job[]): string {
  return jobs
    .map((job) => {
      const what = job.origin?.schedule ?? job.name;
      if (job.state === 'completed') {
        const result = job.result as { output?: string; skipped?: string } | null;
        if (result?.skipped) return `skipped   ${what}: ${result.skipped}`;
        const output =
          typeof result?.output === 'string' && result.output.trim() ? `\n${result.output.trimEnd()}` : '';
        return `completed ${what}${output}`;
      }
      return `${job.state.padEnd(9)} ${what}: ${job.error?.message ?? ''}`;
    })
    .join('\n');
}

program
  .command('run')
  .description('for a system crontab (* * * * * sundial run): fire what is due this minute, run it, wait')
  .option('--no-wait', 'fire and exit, leaving the runs to workers elsewhere')
  .option('--force', 'run every matching task now, whatever its schedule')
  .option('--tag <tag>', 'only tasks with this tag')
  .action(async (options: { wait: boolean; force?: boolean; tag?: string }, command: Command) => {
    const { sundial, config, tasks: all } = await open(command, { access: 'create', withTasks: true });
    try {
      const tasks = all.filter((task) => !options.tag || task.definition.tags.includes(options.tag));
      const fired: string[] = [];
      sundial.on('task.fired', ({ jobId }) => fired.push(jobId));
      const scheduler = sundial.scheduler(tasks, { ...config?.scheduler, autostart: false });
      // The workers run while the minute's later occurrences are still being fired: each run starts
      // when it is due, not after the firing loop has ended (and its overlap check sees it done).
      if (options.wait) startWorkers(sundial, tasks, config);
      if (options.force) {
        for (const task of tasks) await scheduler.trigger(task.definition.id);
      } else {
        const now = Date.now();
        const minuteStart = now - (now % 60_000);
        const minuteEnd = minuteStart + 60_000;
        await scheduler.sync(minuteStart);
        await fireUntil(scheduler, minuteEnd);
        // Sub-minute tasks go on for the first seconds of the next minute: cron starts the next
        // minute's run about a second late, and it takes over from there. Two runs firing one
        // occurrence fire it once (compare-and-set), whichever gets there first.
        const subMinute = tasks.filter((task) => task.cron.hasSeconds);
        if (subMinute.length > 0) {
          const handover = sundial.scheduler(subMinute, { ...config?.scheduler, autostart: false });
          await handover.sync(minuteEnd);
          await fireUntil(handover, minuteEnd + RUN_HANDOVER_MS);
        }
      }
      if (!options.wait) {
        console.log(`fired ${fired.length} run${fired.length === 1 ? '' : 's'}`);
        return;
      }
      const jobs = await settle(sundial, fired);
      if (jobs.length > 0) console.log(printable(reportRuns(jobs)));
      if (jobs.some((job) => job.state !== 'completed')) process.exitCode = 1;
    } finally {
      await sundial.close();
    }
  });

program
  .command('test <task>')
  .description('run a task now and print its output (respects its lock unless --force)')
  .option('--force', "run even while another run holds the task's lock (beside it, leaving its lock alone)")
  .action(async (taskId: string, options: { force?: boolean }, command: Command) => {
    const { sundial, config, tasks } = await open(command, { access: 'create', withTasks: true });
    try {
      const scheduler = sundial.scheduler(tasks, { ...config?.scheduler, autostart: false });
      // --force runs beside a live run, leaving its lock alone (see TaskRunPayload.force).
      const { jobId, duplicate } = await scheduler.trigger(taskId, { force: options.force === true });
      if (duplicate)
        console.log(
          printable(`a run of ${taskId} is already waiting or running (job ${jobId}); waiting for it`),
        );
      startWorkers(sundial, tasks, config);
      const [job] = await settle(sundial, [jobId]);
      console.log(printable(reportRuns([job!])));
      if (job!.state !== 'completed') process.exitCode = 1;
    } finally {
      await sundial.close();
    }
  });

program
  .command('down')
  .description('maintenance mode: scheduled tasks skip unless marked evenInMaintenanceMode()')
  .option('--note <text>', 'why (shown by up and list)')
  .action((options: { note?: string }, command: Command) =>
    withSundial(
      command,
      async (sundial) => {
        await sundial.store.setFlag(
          MAINTENANCE_FLAG,
          JSON.stringify({
            since: Date.now(),
            note: options.note === undefined ? null : checkNote(options.note),
          }),
        );
        return 'maintenance mode on: tasks skip until `sundial up`';
      },
      { access: 'create' },
    ),
  );

program
  .command('up')
  .description('leave maintenance mode')
  .action((_options, command: Command) =>
    withSundial(command, async (sundial) => {
      const was = await sundial.store.getFlag(MAINTENANCE_FLAG);
      await sundial.store.setFlag(MAINTENANCE_FLAG, null);
      return was ? 'maintenance mode off' : 'maintenance mode was not on';
    }),
  );

program
  .command('locks')
  .description('list held locks: name, owner (host, pid, run), token, age of the last heartbeat')
  .option('--silent', 'print nothing; exit 1 when any lock is held (for scripts)')
  .action((options: { silent?: boolean }, command: Command) =>
    withSundial(
      command,
      async (sundial, { json }) => {
        const locks = await sundial.locks.list();
        if (options.silent) {
          if (locks.length > 0) process.exitCode = 1;
          return undefined;
        }
        if (json) return locks;
        if (locks.length === 0) return 'no locks held';
        const now = Date.now();
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
  .command('interrupt <run>')
  .description('stop one run (a run id, or the pid of its command) without stopping the daemon running it')
  .option('--wait <ms>', 'how long to wait for it to stop', '10000')
  .action((target: string, options: { wait: string }, command: Command) =>
    withSundial(command, async (sundial, { json }) => {
      const waitMs = wholeNumber('--wait', options.wait);
      const run = await sundial.interrupt(target);
      const stopped = await waitUntilStopped(sundial, run, waitMs);
      if (json) return { ...run, stopped };
      const what = `run ${run.runId}${run.taskId ? ` of task ${run.taskId}` : ` in queue ${run.queue}`}`;
      const by = run.pid === null ? '' : ` (pid ${run.pid})`;
      if (stopped === null) return `interrupted ${what}${by}; its worker aborts it`;
      return stopped
        ? `interrupted ${what}${by}`
        : `interrupted ${what}${by}; it has not stopped yet (its worker aborts it at its next heartbeat)`;
    }),
  );

program
  .command('clear-locks [task]')
  .description("release a task's lock (or every lock) whoever holds it")
  .action((task: string | undefined, _options, command: Command) =>
    withSundial(command, async (sundial) => {
      const names = task ? [`task:${task}`] : (await sundial.locks.list()).map((lock) => lock.name);
      let cleared = 0;
      for (const name of names) if (await sundial.locks.forceRelease(name)) cleared++;
      return `cleared ${cleared} lock${cleared === 1 ? '' : 's'}`;
    }),
  );

program
  .command('optimize')
  .description("cache which files of the config's task folders define tasks, for a faster start")
  .option('--clear', 'remove the cache')
  .action(async (options: { clear?: boolean }, command: Command) => {
    const { config: file, json } = command.optsWithGlobals() as GlobalOptions;
    const loaded = required(await loadConfig(file));
    const baseDir = dirname(loaded.path);
    if (options.clear) {
      const removed = clearRegistryCache(baseDir);
      console.log(
        json ? JSON.stringify({ removed }) : removed ? 'registry cache removed' : 'no registry cache',
      );
      return;
    }
    const folders = loaded.config.tasks ?? [];
    if (folders.length === 0) {
      throw new SundialError(
        'SUNDIAL_NO_TASK_FOLDERS',
        "The config lists no task folders (tasks: ['./src/tasks']); there is nothing to cache",
      );
    }
    const summary = await optimizeRegistry(baseDir, folders);
    console.log(
      json
        ? JSON.stringify(summary, null, 2)
        : `cached ${relative(process.cwd(), summary.path)}: ${summary.filesScanned} files scanned, ` +
            `${summary.filesWithTasks} with tasks, ${summary.taskCount} tasks`,
    );
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  // An error can echo a config value (a ping URL with its password): masked like everything printed.
  console.error(`sundial: ${masker.mask(error instanceof Error ? error.message : String(error))}`);
  process.exitCode = 1;
});
