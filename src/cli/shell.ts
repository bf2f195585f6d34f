/**
 * What every command shares: opening the Sundial a command works on (the config's store, or the
 * SQLite file at --db), printing (tables for people, `--json` for machines, secrets masked), and
 * the words of errors (an admin field named as the flag that gave it).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  CONFIG_FILES,
  createSundial,
  DEFAULT_TASK_QUEUE,
  defaultMasker,
  InvalidOptionError,
  type Job,
  type LoadedTask,
  loadConfig,
  Masker,
  type Schedule,
  type Sundial,
  type SundialConfig,
  SundialError,
  scheduleFromConfig,
} from '../index.ts';

export interface GlobalOptions {
  db: string;
  config?: string;
  json?: boolean;
  allowOtherTables?: boolean;
}

/** Masks secrets in derived task ids and in what the CLI prints: the config's rules once it is loaded. */
let masker: Masker = defaultMasker;

export function mask(text: string): string {
  return masker.mask(text);
}

/**
 * How a command uses the store: `read` looks (a configured SQLite store not made yet reads as
 * empty, and no file is created), `write` changes what is there, `create` may make the store.
 */
type Access = 'read' | 'write' | 'create';

export interface OpenOptions {
  access?: Access;
  /**
   * Load (and so validate) the config's tasks, before anything about the store is said;
   * `'if-config'` does so only when there is a config.
   */
  withTasks?: boolean | 'if-config';
  /**
   * Make a scheduler (not started) for the loaded tasks, so the admin surface knows them (lists
   * them, resumes them at their next run, triggers them).
   */
  defineTasks?: boolean;
  /** Admin fields to name by the flag that gave them, in errors (`states` → `--state`). */
  flags?: Record<string, string>;
}

export interface Opened {
  sundial: Sundial;
  config: SundialConfig | null;
  options: GlobalOptions;
  tasks: LoadedTask[];
}

/**
 * The Sundial a command works on: the config's store when there is a config (and no --db), else the
 * SQLite file at --db (whose default is SUNDIAL_DB, then `.sundial/sundial.db`). A SQLite path given
 * by --db or SUNDIAL_DB where there is no database is refused, rather than created at a mistyped
 * path, unless the command creates.
 */
export async function open(
  command: Command,
  { access = 'write', withTasks = false, defineTasks = false }: OpenOptions = {},
): Promise<Opened> {
  const options = command.optsWithGlobals() as GlobalOptions;
  const loaded = await loadConfig(options.config);
  masker = new Masker(loaded?.config.mask, 'mask');
  // A broken config is the first thing to hear about, before anything about the store.
  const tasks =
    withTasks === true || (withTasks === 'if-config' && loaded)
      ? (await scheduleOf(loaded)).load({ masker })
      : [];
  let root = command;
  while (root.parent) root = root.parent;
  const dbChosen = root.getOptionValueSource('db') !== 'default';
  const { store: configured } = loaded?.config ?? {};
  let store =
    dbChosen || !configured
      ? { path: options.db, ...(options.allowOtherTables ? { allowOtherTables: true } : {}) }
      : configured;
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
  const config = loaded?.config ?? null;
  if (defineTasks && tasks.length > 0) {
    sundial.scheduler(tasks, { ...config?.scheduler, autostart: false });
  }
  return { sundial, config, options, tasks };
}

/** Runs `work` against the chosen Sundial, prints what it returns, and closes it. */
export async function withSundial(
  command: Command,
  work: (opened: Opened) => Promise<unknown>,
  openOptions: OpenOptions = {},
): Promise<void> {
  const opened = await open(command, openOptions);
  try {
    const output = await work(opened);
    if (output !== undefined) console.log(printable(output));
  } catch (error) {
    throw asFlagError(error, openOptions.flags);
  } finally {
    await opened.sundial.close();
  }
}

/** An admin call's field error, named as the command's flag when it has one. */
function asFlagError(error: unknown, flags: Record<string, string> | undefined): unknown {
  if (!(error instanceof InvalidOptionError) || !flags) return error;
  // `filter.states.1` is the flag of `states`: the last part that is not a list index.
  const field = error.field
    .split('.')
    .filter((part) => !/^\d+$/.test(part))
    .at(-1);
  const flag = field === undefined ? undefined : flags[field];
  return flag ? new InvalidOptionError(flag, error.value, error.expected) : error;
}

/**
 * What the CLI prints, secrets masked: text as it is, anything else as JSON of masked values (the
 * same shape, still valid JSON). Jobs stored by a Sundial older than its masking, or before a rule
 * was added, are masked here too.
 */
export function printable(output: unknown): string {
  return typeof output === 'string' ? masker.mask(output) : JSON.stringify(masker.maskValue(output), null, 2);
}

/** The loaded config; refuses a command that needs one when there is none. */
export function required(loaded: { path: string; config: SundialConfig } | null) {
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

/** The queue the config's scheduler fires task runs into. */
export function taskQueueOf(config: SundialConfig | null): string {
  return config?.scheduler?.taskQueue ?? DEFAULT_TASK_QUEUE;
}

/** The config's task runner, on the queue its scheduler fires into. */
export function taskRunnerOptions(config: SundialConfig | null) {
  return { ...config?.taskRunner, taskQueue: taskQueueOf(config) };
}

/** Starts the workers a config defines: the task runner and each queue's workers. */
export function startWorkers(
  sundial: Sundial,
  tasks: readonly LoadedTask[],
  config: SundialConfig | null,
): void {
  sundial.taskWorker(tasks, taskRunnerOptions(config));
  for (const [queue, { handlers, options }] of Object.entries(config?.workers ?? {}))
    sundial.worker(queue, handlers, options);
}

/** Task runs as `run` and `test` report them: the outcome, then the output. */
export function reportRuns(jobs: readonly Job[]): string {
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

/** A whole number given to a flag, or an error naming the flag. */
export function wholeNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text))
    throw new SundialError(
      'SUNDIAL_INVALID_OPTION',
      `Invalid ${flag}: ${JSON.stringify(text)} (a whole number)`,
    );
  return Number(text);
}
