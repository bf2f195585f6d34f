import type { JobError, Masker } from '../core/index.ts';
import type { JobOptions } from '../queue/index.ts';
import type { ScheduleSpec } from './cron-schedule.ts';
import { FrequencyBuilder } from './frequency.ts';

/** What a task does when it fires. */
export type TaskAction =
  | { kind: 'call'; fn: (context: TaskContext) => unknown }
  | {
      kind: 'command';
      command: string;
      args: string[];
      /** Run through `/bin/sh -c` (interpolation and pipes); off unless asked for. */
      shell: boolean;
      cwd: string | null;
      env: Record<string, string>;
    }
  | { kind: 'job'; queue: string; name: string; payload: unknown; options: JobOptions }
  | { kind: 'ping'; url: string; method: 'GET' | 'POST' | 'HEAD' };

/** What a `call` task's function receives. */
export interface TaskContext {
  taskId: string;
  /** The occurrence this run is for (epoch ms), not when it started. */
  scheduledFor: number;
  /** Aborts on the task's timeout, on interrupt and at shutdown. */
  signal: AbortSignal;
  /** Captured into the run record (masked and truncated like command output). */
  log: (...parts: unknown[]) => void;
}

/** What to do with an occurrence while the previous run of the task is still going. */
export type OverlapPolicy = 'skip' | 'allow' | 'bufferOne' | 'replace';

/** What to do with occurrences missed while nothing was running (downtime). */
export type MisfirePolicy = { policy: 'skip' } | { policy: 'once' } | { policy: 'catchUp'; windowMs: number };

/** What hooks receive: the run and its captured output. */
export interface TaskRunInfo {
  taskId: string;
  scheduledFor: number;
  startedAt: number;
  finishedAt: number | null;
  ok: boolean | null;
  output: string;
  error: JobError | null;
}

export type TaskHook = (run: TaskRunInfo) => unknown;

/** How a task without `.name()` gets its id, from the masker of whoever loads the schedule. */
export type DerivedId = (masker: Masker) => string;

/** A task as loaded: everything the scheduler needs, validated. */
export interface TaskDefinition {
  id: string;
  description: string | null;
  action: TaskAction;
  schedule: ScheduleSpec;
  environments: string[] | null;
  evenInMaintenanceMode: boolean;
  when: (() => boolean | Promise<boolean>)[];
  skip: (() => boolean | Promise<boolean>)[];
  tags: string[];
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  jitterMs: number;
  /** Hard timeout of a run in ms (commands: stopped with what they started); null for none. */
  timeoutMs: number | null;
  hooks: { before: TaskHook[]; onSuccess: TaskHook[]; onFailure: TaskHook[]; after: TaskHook[] };
}

/**
 * One task being defined: what it does (from `schedule.call/command/job/ping`), when (the
 * frequency methods it inherits), and how (constraints, policies, hooks). Chainable.
 *
 * @example
 * schedule.command('pg_dump', ['-Fc', 'app']).name('backup').dailyAt('02:30').timezone('Europe/Rome');
 */
export class TaskBuilder extends FrequencyBuilder {
  private action: TaskAction;
  private id: string | null = null;
  private readonly derivedId: DerivedId | null;
  private text: string | null = null;
  private envs: string[] | null = null;
  private maintenance = false;
  private readonly whens: (() => boolean | Promise<boolean>)[] = [];
  private readonly skips: (() => boolean | Promise<boolean>)[] = [];
  private tagList: string[] = [];
  private overlapPolicy: OverlapPolicy = 'skip';
  private misfirePolicy: MisfirePolicy = { policy: 'skip' };
  private jitter = 0;
  private timeout: number | null = null;
  private readonly hookLists: TaskDefinition['hooks'] = {
    before: [],
    onSuccess: [],
    onFailure: [],
    after: [],
  };
  /** Where it was defined, to name a task that has no name yet in errors. */
  readonly origin: string;

  constructor(action: TaskAction, derivedId: DerivedId | null, origin: string) {
    super();
    this.action = action;
    this.derivedId = derivedId;
    this.origin = origin;
  }

  /** The task's stable id, used in the store, the CLI and locks. Required for `call` tasks. */
  name(id: string): this {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_.:@/ -]{1,200}$/.test(id)) {
      return this.problem('name', id, 'a name of 1 to 200 letters, digits, spaces or _ . : @ / -');
    }
    this.id = id;
    return this;
  }

  /** Records a problem found by whoever made this builder (the schedule checks its arguments). */
  problemFrom(field: string, value: unknown, expected: string): this {
    return this.problem(field, value, expected);
  }

  /** Run a command task through `/bin/sh -c`, with the shell's interpolation and pipes. */
  shell(): this {
    if (this.action.kind !== 'command')
      return this.problem('shell', this.action.kind, 'only command tasks have a shell');
    this.action = { ...this.action, shell: true };
    return this;
  }

  description(text: string): this {
    this.text = String(text);
    return this;
  }

  /** Run only where `SUNDIAL_ENV` (or `NODE_ENV`) is one of these. */
  environments(names: string[]): this {
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string')) {
      return this.problem('environments', names, 'an array of environment names');
    }
    this.envs = [...names];
    return this;
  }

  /** Run even while the store is in maintenance mode (`sundial down`). */
  evenInMaintenanceMode(): this {
    this.maintenance = true;
    return this;
  }

  /** Run only when `check` says yes at fire time. */
  when(check: () => boolean | Promise<boolean>): this {
    if (typeof check !== 'function') return this.problem('when', check, 'a function');
    this.whens.push(check);
    return this;
  }

  /** Skip when `check` says yes at fire time. */
  skip(check: () => boolean | Promise<boolean>): this {
    if (typeof check !== 'function') return this.problem('skip', check, 'a function');
    this.skips.push(check);
    return this;
  }

  tags(tags: string[]): this {
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === '')) {
      return this.problem('tags', tags, 'an array of non-empty strings');
    }
    this.tagList = [...new Set(tags)];
    return this;
  }

  /** Let runs overlap (by default an occurrence is skipped while the previous run goes on). */
  allowOverlapping(): this {
    return this.overlap('allow');
  }

  overlap(policy: OverlapPolicy): this {
    if (!['skip', 'allow', 'bufferOne', 'replace'].includes(policy)) {
      return this.problem('overlap', policy, "'skip', 'allow', 'bufferOne' or 'replace'");
    }
    this.overlapPolicy = policy;
    return this;
  }

  /** After downtime: `skip` missed occurrences (default) or run `once` to catch up. */
  misfire(policy: 'skip' | 'once'): this {
    if (policy !== 'skip' && policy !== 'once') return this.problem('misfire', policy, "'skip' or 'once'");
    this.misfirePolicy = { policy };
    return this;
  }

  /** After downtime, run every missed occurrence no older than `window` ms. */
  catchUp(options: { window: number }): this {
    const window = options?.window;
    if (!Number.isInteger(window) || window <= 0) {
      return this.problem('catchUp.window', window, 'a whole number of milliseconds above 0');
    }
    this.misfirePolicy = { policy: 'catchUp', windowMs: window };
    return this;
  }

  /** Delay each run by a random 0…`ms`, so many servers' tasks do not hit a service at once. */
  withJitter(ms: number): this {
    if (!Number.isInteger(ms) || ms < 0)
      return this.problem('jitter', ms, 'a whole number of milliseconds, 0 or more');
    this.jitter = ms;
    return this;
  }

  /** Stop a run that takes longer than `ms`. */
  timeoutAfter(ms: number): this {
    if (!Number.isInteger(ms) || ms <= 0)
      return this.problem('timeout', ms, 'a whole number of milliseconds above 0');
    this.timeout = ms;
    return this;
  }

  before(hook: TaskHook): this {
    return this.hook('before', hook);
  }
  onSuccess(hook: TaskHook): this {
    return this.hook('onSuccess', hook);
  }
  onFailure(hook: TaskHook): this {
    return this.hook('onFailure', hook);
  }
  after(hook: TaskHook): this {
    return this.hook('after', hook);
  }

  /**
   * The validated definition; throws through `schedule.definitions()` with the task's name. A
   * derived id is masked with `masker`'s rules.
   */
  build(masker: Masker): {
    definition: TaskDefinition | null;
    problems: TaskBuilder['problems'];
    label: string;
  } {
    const id = this.id ?? this.derivedId?.(masker) ?? null;
    const label = id ?? this.origin;
    if (id === null) {
      this.problem(
        'name',
        undefined,
        `this task needs .name('...'): its id cannot be derived from a function`,
      );
    }
    if (this.misfirePolicy.policy === 'catchUp' && this.overlapPolicy !== 'allow') {
      this.problem(
        'catchUp',
        this.misfirePolicy.windowMs,
        'each caught-up occurrence is a run of its own: add .allowOverlapping()',
      );
    }
    if (
      (this.overlapPolicy === 'bufferOne' || this.overlapPolicy === 'replace') &&
      this.action.kind === 'job'
    ) {
      // Their runs take turns through the task's lock in the task runner; a job task's handler runs
      // in its own queue and takes none, so the runs would go side by side.
      this.problem(
        'overlap',
        this.overlapPolicy,
        "'skip' or 'allow' for a job task ('bufferOne' and 'replace' need a call, command or ping task)",
      );
    }
    if (this.problems.length > 0 || id === null) return { definition: null, problems: this.problems, label };
    return {
      label,
      problems: [],
      definition: {
        id,
        description: this.text,
        action: this.action,
        schedule: this.scheduleSpec(),
        environments: this.envs,
        evenInMaintenanceMode: this.maintenance,
        when: [...this.whens],
        skip: [...this.skips],
        tags: this.tagList,
        overlap: this.overlapPolicy,
        misfire: this.misfirePolicy,
        jitterMs: this.jitter,
        timeoutMs: this.timeout,
        hooks: {
          before: [...this.hookLists.before],
          onSuccess: [...this.hookLists.onSuccess],
          onFailure: [...this.hookLists.onFailure],
          after: [...this.hookLists.after],
        },
      },
    };
  }

  private hook(kind: keyof TaskDefinition['hooks'], hook: TaskHook): this {
    if (typeof hook !== 'function') return this.problem(kind, hook, 'a function');
    if (this.action.kind === 'job') {
      // A job task's run is the job itself, run by the app's own worker, not the task runner: no
      // hook would ever be called. Said here, not found out when nothing happens.
      return this.problem(
        kind,
        'a hook',
        "a call, command or ping task (a job task's run is its job: listen to the job events instead)",
      );
    }
    this.hookLists[kind].push(hook);
    return this;
  }
}
