import { InvalidOptionError, parseDuration, SundialError } from '../core/index.ts';
import type { Schedule } from './schedule.ts';
import type { OverlapPolicy, TaskBuilder, TaskContext } from './task.ts';

/** A duration as `parseDuration` reads it: `'30s'`, `'5m'`, `'2h'`, `'1d'`, or milliseconds. */
export type DurationInput = string | number;

interface ScheduledCommonOptions {
  /** The task's id; default `ClassName.methodName`. */
  name?: string;
  description?: string;
  tags?: string[];
  /** IANA zone the schedule is read in (default: the process's zone). */
  timezone?: string;
  overlap?: OverlapPolicy;
  /** After downtime: skip missed occurrences, run `once`, or run every one within a window. */
  misfire?: 'skip' | 'once' | { catchUp: DurationInput };
  /** Delay each run by a random 0…jitter. */
  jitter?: DurationInput;
  /** Stop a run that takes longer than this. */
  timeout?: DurationInput;
  environments?: string[];
  evenInMaintenanceMode?: boolean;
  /** Only run between these wall-clock times, e.g. `['08:00', '17:00']`. */
  between?: [string, string];
  /** Never run between these wall-clock times. */
  unlessBetween?: [string, string];
}

/** What `@Scheduled` takes: when (`cron` or `every`, exactly one) and the task's options. */
export type ScheduledOptions = ScheduledCommonOptions &
  (
    | { cron: string; every?: never }
    | {
        /** A period that divides a minute, an hour or a day evenly: `'15s'`, `'5m'`, `'2h'`, `'1d'`, `'1w'`. */
        every: DurationInput;
        cron?: never;
      }
  );

const OPTION_KEYS = [
  'cron',
  'every',
  'name',
  'description',
  'tags',
  'timezone',
  'overlap',
  'misfire',
  'jitter',
  'timeout',
  'environments',
  'evenInMaintenanceMode',
  'between',
  'unlessBetween',
];

/** What the decorator recorded about one method, before anyone knows its class. */
export interface ScheduledMark {
  method: (...args: never[]) => unknown;
  methodName: string;
  isStatic: boolean;
  options: ScheduledOptions;
}

/** A decorated method matched to its class: ready to become a task. */
export interface ScheduledMethod extends ScheduledMark {
  /** The class that owns the method (the `this` of a static method; constructed for others). */
  owner: abstract new (
    ...args: never[]
  ) => unknown;
}

interface Registry {
  byMethod: WeakMap<object, ScheduledMark>;
  /** Marks in the order the decorator saw them, until discovery takes them. */
  recent: ScheduledMark[];
}

// On globalThis rather than in this module: a task file may get its own copy of this module (tsx
// loads each discovery pass in a module namespace of its own; an app can hold two copies of the
// package), and every copy must write where discovery reads.
const REGISTRY = Symbol.for('sundial.scheduled');

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= { byMethod: new WeakMap(), recent: [] };
  return holder[REGISTRY];
}

/**
 * Marks a method as a scheduled task (a standard TC39 method decorator: no reflect-metadata, no
 * `experimentalDecorators`). Discovery (`tasks: ['./src/tasks']` in the config) finds it on the
 * module's exported class; the method then runs with the `TaskContext` on one instance made with
 * `new Class()`, or on the class itself when static. Options are checked when the schedule loads,
 * with errors that name the task.
 *
 * @example
 * export class Reports {
 *   @Scheduled({ cron: '30 2 * * *', timezone: 'Europe/Rome', tags: ['reports'] })
 *   async nightly({ log, signal }: TaskContext) { log('built', await build(signal)); }
 *
 *   @Scheduled({ every: '5m', name: 'reports:warm-cache' })
 *   static warm() { ... }
 * }
 */
export function Scheduled(options: ScheduledOptions) {
  return <This, Method extends (this: This, context: TaskContext) => unknown>(
    method: Method,
    context: ClassMethodDecoratorContext<This, Method>,
  ): void => {
    // Legacy (experimentalDecorators) semantics call with (prototype, key, descriptor) instead.
    if (typeof context !== 'object' || context === null || typeof context.kind !== 'string') {
      throw new SundialError(
        'SUNDIAL_INVALID_DECORATOR',
        '@Scheduled is a standard decorator: turn off experimentalDecorators in tsconfig.json',
      );
    }
    const methodName = String(context.name);
    if (context.kind !== 'method') {
      throw new SundialError(
        'SUNDIAL_INVALID_DECORATOR',
        `@Scheduled goes on a method, not on the ${context.kind} ${methodName}`,
      );
    }
    if (context.private) {
      throw new SundialError(
        'SUNDIAL_INVALID_DECORATOR',
        `@Scheduled cannot go on the private method ${methodName}: discovery finds tasks among a class's public methods`,
      );
    }
    const mark: ScheduledMark = { method, methodName, isStatic: context.static, options };
    registry().byMethod.set(method, mark);
    registry().recent.push(mark);
  };
}

/** The mark `@Scheduled` left on this function, if any. */
export function scheduledMarkOf(fn: unknown): ScheduledMark | undefined {
  return typeof fn === 'function' ? registry().byMethod.get(fn) : undefined;
}

/** The marks made since the last call, oldest first; discovery uses them to spot unexported classes. */
export function takeRecentScheduledMarks(): ScheduledMark[] {
  return registry().recent.splice(0);
}

/** The id a decorated method's task gets: its `name` option, else `ClassName.methodName`. */
export function scheduledTaskId(task: ScheduledMethod): string {
  const { name } = task.options as { name?: unknown };
  return typeof name === 'string' ? name : defaultTaskId(task);
}

function defaultTaskId(task: ScheduledMethod): string {
  return `${task.owner.name || 'default'}.${task.methodName}`;
}

/**
 * Adds decorated methods to `schedule` as `call` tasks with their options applied through the
 * fluent builder, so every check of the builder applies and `schedule.load()` reports a bad
 * option as `Invalid tasks["Reports.nightly"].every: "7m" (...)`.
 */
export function applyScheduled(schedule: Schedule, methods: readonly ScheduledMethod[]): void {
  // One instance per class, made on the first run, not at load: `sundial list` should not open the
  // connections a constructor might. A constructor that throws is tried again on the next run.
  const instances = new Map<object, unknown>();
  const targetOf = (task: ScheduledMethod): unknown => {
    if (task.isStatic) return task.owner;
    if (!instances.has(task.owner)) {
      const Owner = task.owner as unknown as new () => unknown;
      instances.set(task.owner, new Owner());
    }
    return instances.get(task.owner);
  };
  for (const task of methods) {
    const method = task.method as (this: unknown, context: TaskContext) => unknown;
    const builder = schedule.call((context) => method.call(targetOf(task), context));
    // The default first, so that a bad `name` is reported under the default one.
    builder.name(defaultTaskId(task));
    applyOptions(builder, task.options as unknown as Record<string, unknown>);
  }
}

function applyOptions(builder: TaskBuilder, options: Record<string, unknown>): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    builder.problemFrom('@Scheduled', options, 'an object of options like { cron: "0 * * * *" }');
    return;
  }
  for (const [key, value] of Object.entries(options)) {
    if (!OPTION_KEYS.includes(key)) {
      builder.problemFrom(key, value, `not a @Scheduled option; known: ${OPTION_KEYS.join(', ')}`);
    }
  }
  const { cron, every } = options;
  if (cron !== undefined && every !== undefined) {
    builder.problemFrom('every', every, 'give cron or every, not both');
  } else if (cron !== undefined) {
    builder.cron(cron as string);
  } else if (every !== undefined) {
    const ms = duration(builder, 'every', every);
    if (ms !== null) {
      const expression = cronForEvery(ms);
      if (expression) builder.cron(expression);
      else
        builder.problemFrom(
          'every',
          every,
          'a period that divides a minute, an hour or a day evenly, like 15s, 5m, 2h, 1d or 1w',
        );
    }
  } else {
    builder.problemFrom('cron', undefined, '@Scheduled needs cron or every');
  }
  if (options.name !== undefined) builder.name(options.name as string);
  if (options.description !== undefined) {
    if (typeof options.description === 'string') builder.description(options.description);
    else builder.problemFrom('description', options.description, 'a string');
  }
  if (options.tags !== undefined) builder.tags(options.tags as string[]);
  if (options.timezone !== undefined) builder.timezone(options.timezone as string);
  if (options.overlap !== undefined) builder.overlap(options.overlap as OverlapPolicy);
  if (options.misfire !== undefined) misfire(builder, options.misfire);
  if (options.jitter !== undefined) {
    const ms = duration(builder, 'jitter', options.jitter);
    if (ms !== null) builder.withJitter(ms);
  }
  if (options.timeout !== undefined) {
    const ms = duration(builder, 'timeout', options.timeout);
    if (ms !== null) builder.timeoutAfter(ms);
  }
  if (options.environments !== undefined) builder.environments(options.environments as string[]);
  if (options.evenInMaintenanceMode === true) builder.evenInMaintenanceMode();
  else if (options.evenInMaintenanceMode !== undefined && options.evenInMaintenanceMode !== false) {
    builder.problemFrom('evenInMaintenanceMode', options.evenInMaintenanceMode, 'true or false');
  }
  for (const key of ['between', 'unlessBetween'] as const) {
    const window = options[key];
    if (window === undefined) continue;
    if (!Array.isArray(window) || window.length !== 2) {
      builder.problemFrom(key, window, 'two times of day like ["08:00", "17:00"]');
    } else {
      builder[key](window[0] as string, window[1] as string);
    }
  }
}

function misfire(builder: TaskBuilder, value: unknown): void {
  if (value === 'skip' || value === 'once') {
    builder.misfire(value);
    return;
  }
  if (typeof value === 'object' && value !== null && Object.keys(value).join() === 'catchUp') {
    const window = duration(builder, 'misfire.catchUp', (value as { catchUp: unknown }).catchUp);
    if (window !== null) builder.catchUp({ window });
    return;
  }
  builder.problemFrom('misfire', value, "'skip', 'once' or { catchUp: window like '6h' }");
}

/** Milliseconds, or null after recording the problem on the builder. */
function duration(builder: TaskBuilder, field: string, value: unknown): number | null {
  try {
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new InvalidOptionError(field, value, '');
    return parseDuration(field, value);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    builder.problemFrom(field, value, 'a duration like 30s, 5m, 2h or 1d, or whole milliseconds');
    return null;
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The cron expression (seconds first) that fires every `ms`, aligned to the clock as the fluent
 * `everyFiveMinutes()` and friends are; null when cron cannot say it (`7m` would fire at :56 and
 * then :00 again, and months are not a whole number of anything longer than a day but a week).
 */
export function cronForEvery(ms: number): string | null {
  const step = (n: number) => (n === 1 ? '*' : `*/${n}`);
  if (!Number.isInteger(ms) || ms <= 0 || ms % SECOND !== 0) return null;
  if (ms < MINUTE) return MINUTE % ms === 0 ? `${step(ms / SECOND)} * * * * *` : null;
  if (ms < HOUR) return ms % MINUTE === 0 && HOUR % ms === 0 ? `0 ${step(ms / MINUTE)} * * * *` : null;
  if (ms < DAY) return ms % HOUR === 0 && DAY % ms === 0 ? `0 0 ${step(ms / HOUR)} * * *` : null;
  if (ms === DAY) return '0 0 0 * * *';
  // Like `.weekly()`: Sunday at midnight.
  if (ms === 7 * DAY) return '0 0 0 * * 0';
  return null;
}
