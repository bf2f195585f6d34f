import { createHash } from 'node:crypto';
import {
  type Clock,
  checkName,
  defaultMasker,
  InvalidCronError,
  InvalidOptionError,
  type Masker,
  SundialError,
  systemClock,
  toJson,
  UnserializableError,
} from '../core/index.ts';
import { type JobOptions, parseJobOptions } from '../queue/index.ts';
import { injectingEnvReason } from './command-env.ts';
import { CronSchedule } from './cron-schedule.ts';
import type { DefinitionProblem } from './frequency.ts';
import {
  type DerivedId,
  type TaskAction,
  TaskBuilder,
  type TaskContext,
  type TaskDefinition,
} from './task.ts';

/** A validated task with its compiled schedule. */
export interface LoadedTask {
  definition: TaskDefinition;
  cron: CronSchedule;
  /** Human words for when it runs. */
  frequency: string;
}

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * Where tasks are defined. Each method starts a task and returns its builder.
 *
 * @example
 * const schedule = new Schedule();
 * schedule.call(({ log }) => log('tick')).name('heartbeat').everyMinute();
 * schedule.command('pg_dump', ['-Fc', 'app']).name('backup').dailyAt('02:30');
 * schedule.job('emails', 'digest', { kind: 'weekly' }).weeklyOn(1, '08:00');
 */
export class Schedule {
  private readonly builders: TaskBuilder[] = [];

  /** Runs a function. Needs `.name()`. */
  call(fn: (context: TaskContext) => unknown): TaskBuilder {
    if (typeof fn !== 'function') {
      return this.add({ kind: 'call', fn: () => {} }, null).problemFrom('call', fn, 'a function');
    }
    return this.add({ kind: 'call', fn }, null);
  }

  /**
   * Runs an executable with an argv array (no shell unless `.shell()`). Its id, unless `.name()`
   * gives one, is the command line with any secret in it masked (ids are stored and listed; see
   * `derivedTaskId`).
   */
  command(command: string, args: string[] = [], options: CommandOptions = {}): TaskBuilder {
    // A copy: the definition is checked once, so the caller's object changing later must not change it.
    const given = options?.env ?? {};
    const env = isStringRecord(given) ? { ...given } : given;
    const action: TaskAction = {
      kind: 'command',
      command: String(command),
      args: Array.isArray(args) ? args.map(String) : [],
      shell: false,
      cwd: options?.cwd ?? null,
      env,
    };
    const line = [command, ...(Array.isArray(args) ? args : [])].join(' ');
    const secretValues = isStringRecord(env) ? Object.values(env) : [];
    const builder = this.add(action, (masker) => derivedTaskId(line, masker, secretValues, 200));
    if (typeof command !== 'string' || command.trim() === '')
      builder.problemFrom('command', command, 'an executable name or path');
    if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) {
      builder.problemFrom('command.args', args, 'an array of strings');
    }
    if (options?.cwd !== undefined && (typeof options.cwd !== 'string' || options.cwd === '')) {
      builder.problemFrom('command.cwd', options.cwd, 'a folder path');
    }
    if (!isStringRecord(env)) builder.problemFrom('command.env', env, 'an object of string values');
    else {
      for (const [name, value] of Object.entries(env)) {
        const reason = injectingEnvReason(name);
        if (reason) builder.problemFrom(envField(name), value, reason);
      }
    }
    return builder;
  }

  /**
   * Adds a job to a queue, to be run by that queue's workers, with the job `options` of
   * `queue.add` (attempts, backoff, timeout, priority); the scheduler sets its dedupe key and run time.
   */
  job(queue: string, name: string, payload: unknown = null, options: JobOptions = {}): TaskBuilder {
    const builder = this.add({ kind: 'job', queue, name, payload, options }, () => `job:${queue}:${name}`);
    try {
      parseJobOptions(options, 'job.options');
      for (const key of ['dedupeKey', 'runAt', 'delay'] as const) {
        if (options[key] !== undefined)
          builder.problemFrom(`job.options.${key}`, options[key], 'set by the scheduler for each fire');
      }
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      builder.problemFrom(error.field, error.value, error.expected);
    }
    try {
      // Every fire stores it: a payload JSON cannot hold is refused now, not at the first fire.
      toJson(payload, 'job.payload');
    } catch (error) {
      if (!(error instanceof UnserializableError)) throw error;
      builder.problemFrom(error.field, error.value, `cannot be stored as JSON: it ${error.reason}`);
    }
    for (const [field, value] of [
      ['job.queue', queue],
      ['job.name', name],
    ] as const) {
      try {
        checkName(field, value);
      } catch (error) {
        if (error instanceof InvalidOptionError) builder.problemFrom(field, value, 'a queue or handler name');
      }
    }
    return builder;
  }

  /** Requests a URL (a health check, a webhook); a non-2xx answer fails the run. */
  ping(url: string, options: { method?: 'GET' | 'POST' | 'HEAD' } = {}): TaskBuilder {
    const method = options?.method ?? 'GET';
    const builder = this.add(
      { kind: 'ping', url, method },
      // Within the 200 characters of a name, as a command's: ids are dedupe keys and lock names.
      (masker) => `ping:${derivedTaskId(String(url), masker, [], 195)}`,
    );
    if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:/.test(url)) {
      builder.problemFrom('ping', url, 'an http:// or https:// URL');
    }
    if (!['GET', 'POST', 'HEAD'].includes(method))
      builder.problemFrom('ping.method', method, "'GET', 'POST' or 'HEAD'");
    return builder;
  }

  /**
   * Every task, validated and compiled. Throws on the first problem, naming the task, the field
   * and the value (`Invalid tasks["backup"].dailyAt: "25:00" (...)`), and on two tasks with one id.
   * `masker` masks secrets in derived ids (default: the built-in rules); `sundial.scheduler()` and
   * `taskWorker()` pass `sundial.masker`, so give the same when you load a schedule yourself.
   */
  load({
    masker = defaultMasker,
    clock = systemClock,
  }: {
    masker?: Masker;
    clock?: Clock;
  } = {}): LoadedTask[] {
    const tasks: LoadedTask[] = [];
    const seen = new Set<string>();
    const compiledBySpec = new Map<string, { cron: CronSchedule; frequency: string }>();
    for (const builder of this.builders) {
      const { definition, problems, label } = builder.build(masker);
      if (problems.length > 0) throw problemError(label, problems[0]!);
      const task = definition!;
      if (seen.has(task.id)) {
        throw new SundialError(
          'SUNDIAL_DUPLICATE_TASK',
          `Two tasks are named ${JSON.stringify(task.id)}; give one another .name()`,
        );
      }
      seen.add(task.id);
      // Tasks with the same timing share one compiled schedule: compiling is the costly part of a
      // load (croner builds ~80 KB of tables per expression), and a schedule holds no task's state.
      const key = JSON.stringify(task.schedule);
      let compiled = compiledBySpec.get(key);
      if (!compiled) {
        const cron = new CronSchedule(task.schedule, `tasks[${JSON.stringify(task.id)}].cron`);
        if (cron.next(clock.now()) === null) {
          throw new InvalidCronError(
            `tasks[${JSON.stringify(task.id)}].cron`,
            task.schedule.expression,
            'never runs: no date matches, or its between/unlessBetween windows leave no time',
          );
        }
        compiled = { cron, frequency: cron.describe() };
        compiledBySpec.set(key, compiled);
      }
      tasks.push({ definition: task, cron: compiled.cron, frequency: compiled.frequency });
    }
    return tasks;
  }

  private add(action: TaskAction, derivedId: DerivedId | null): TaskBuilder {
    const builder = new TaskBuilder(action, derivedId, `task #${this.builders.length + 1} (${action.kind})`);
    this.builders.push(builder);
    return builder;
  }
}

/**
 * The id of a task without `.name()`, from its text (a command line, a ping URL) with its secrets
 * masked, at most `maxChars` long. Masking can make two texts alike (`--password a` and
 * `--password b` both read `--password [masked]`), and so can cutting a long one; one id would make
 * two tasks one: a text that masking changed or that was cut gets a short hash of its real text
 * (`pg_dump --password [masked] #3f9a1c`). Short texts without secrets keep the ids they always had.
 */
export function derivedTaskId(
  text: string,
  masker: Masker,
  values: readonly string[] = [],
  maxChars: number,
): string {
  const masked = masker.mask(text, values);
  if (masked === text && text.length <= maxChars) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 6);
  return `${masked.slice(0, maxChars - 8)} #${hash}`;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === 'string')
  );
}

/** `command.env.LD_PRELOAD`, or `command.env["A=B"]` for a name that is not a plain word. */
function envField(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? `command.env.${name}`
    : `command.env[${JSON.stringify(name)}]`;
}

function problemError(label: string, problem: DefinitionProblem): InvalidOptionError {
  const field = `tasks[${JSON.stringify(label)}].${problem.field}`;
  return problem.cron
    ? new InvalidCronError(field, problem.value, problem.expected)
    : new InvalidOptionError(field, problem.value, problem.expected);
}
