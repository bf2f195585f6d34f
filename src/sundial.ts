import { Admin, Operations } from './admin/index.ts';
import {
  Batcher,
  type Clock,
  InvalidOptionError,
  Masker,
  type MaskOptions,
  maskError,
  SundialError,
  type SundialEvents,
  systemClock,
  TypedEmitter,
  UnheardErrors,
} from './core/index.ts';
import { LockProvider } from './locks/index.ts';
import { Queue, type QueueOptions, type SundialContext } from './queue/index.ts';
import {
  bridgeTaskEvents,
  DEFAULT_TASK_QUEUE,
  type Interrupted,
  interruptRun,
  type LoadedTask,
  needsTaskEventBridge,
  Schedule,
  Scheduler,
  type SchedulerOptions,
  type TaskRunnerOptions,
  taskHandlers,
} from './schedule/index.ts';
import { SqliteStore, type SqliteStoreOptions, type Store } from './store/index.ts';
import {
  closeOnSignals,
  type Handlers,
  type SignalOptions,
  Worker,
  type WorkerOptions,
} from './worker/index.ts';

export interface SundialOptions {
  /**
   * Where jobs live: a `Store` (SQLite, PostgreSQL, Redis), or options for the embedded SQLite
   * store. Default: SQLite at `.sundial/sundial.db`.
   */
  store?: Store | SqliteStoreOptions;
  /** Where time comes from; tests pass a `FakeClock`. */
  clock?: Clock;
  /**
   * Rules and key names to mask beside the built-in ones, wherever this Sundial stores or reports
   * text (job errors, task output, derived task ids, events, hooks). Give every process the same
   * (a config's `mask` does this for the CLI): derived task ids depend on them.
   */
  mask?: MaskOptions;
}

/**
 * One Sundial: a store, the queues on it and the workers this process runs.
 *
 * @example
 * const sundial = createSundial();                       // .sundial/sundial.db
 * await sundial.queue('emails').add('welcome', { userId: 42 });
 * sundial.worker('emails', { welcome: async ({ userId }) => sendWelcome(userId) });
 * sundial.closeOnSignals();                              // Ctrl-C drains and exits
 */
export class Sundial {
  readonly store: Store;
  readonly clock: Clock;
  /** This Sundial's rule set for masking secrets (the built-in rules plus `options.mask`). */
  readonly masker: Masker;
  private readonly events: TypedEmitter<SundialEvents>;
  private readonly context: SundialContext;
  private readonly queues = new Map<string, Queue>();
  private readonly queueOptions = new Map<string, string>();
  /** Queues the scheduler built jobs with before the app made them (see `scheduler`). */
  private readonly buildOnlyQueues = new Map<string, Queue>();
  private readonly workers = new Set<Worker>();
  private readonly schedulers = new Set<Scheduler>();
  private lockProvider: LockProvider | null = null;
  private adminSurface: Admin | null = null;
  /** Every task given to a scheduler of this Sundial, by id. */
  private readonly knownTasks = new Map<string, LoadedTask>();
  private taskEventsBridged = false;
  private closing: Promise<void> | null = null;

  constructor(options: SundialOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', options, 'an object like { store, clock }');
    }
    this.masker = new Masker(options.mask, 'options.mask');
    this.store = isStore(options.store) ? options.store : new SqliteStore(options.store ?? {});
    this.clock = options.clock ?? systemClock;
    // Store trouble nobody listens for is still shown (rate-limited), not lost in silence.
    const unheard = new UnheardErrors(this.clock);
    this.events = new TypedEmitter<SundialEvents>({
      // Job and task events carry errors stored masked already; the `error` event carries what was
      // thrown (a store's error can hold a connection URL), so it is masked on its way out.
      prepare: {
        error: (event) => ({
          error: maskError(event.error, this.masker),
          context: this.masker.mask(String(event.context)),
        }),
      },
      unheard: (name, event) => {
        if (name === 'error') unheard.report(event as SundialEvents['error']);
      },
    });
    this.context = {
      store: this.store,
      clock: this.clock,
      events: this.events,
      addBatcher: new Batcher((jobs) => this.store.addJobs(jobs), 1000, this.store.addBatchParts),
      masker: this.masker,
    };
  }

  /** Creates or migrates the store's schema. Optional: stores open themselves on first use. */
  async init(): Promise<void> {
    await this.store.init();
  }

  /**
   * The queue with this name: the same object on every call. Its `options` are set by the first
   * call that gives them; a later call with different options is refused rather than ignored.
   */
  queue(name: string, options?: QueueOptions): Queue {
    const existing = this.queues.get(name);
    if (existing) {
      const given = JSON.stringify(options ?? {});
      if (options !== undefined && given !== this.queueOptions.get(name)) {
        throw new InvalidOptionError(
          'options',
          options,
          `queue ${JSON.stringify(name)} already exists with ${this.queueOptions.get(name)}`,
        );
      }
      return existing;
    }
    const queue = new Queue(name, this.context, options);
    this.queues.set(name, queue);
    this.buildOnlyQueues.delete(name);
    this.queueOptions.set(name, JSON.stringify(options ?? {}));
    return queue;
  }

  /** Starts a worker that runs jobs of `queue` with `handlers` (by job name). */
  worker(queue: string, handlers: Handlers, options?: WorkerOptions): Worker {
    if (this.closing)
      throw new SundialError('SUNDIAL_CLOSED', 'This Sundial is closed; create a new one to run workers');
    const worker = new Worker(queue, handlers, this.context, options);
    this.workers.add(worker);
    return worker;
  }

  /**
   * Starts a scheduler that fires `schedule`'s tasks into this store. Run one in as many processes
   * as you like: each occurrence fires once.
   */
  scheduler(schedule: Schedule | readonly LoadedTask[], options?: SchedulerOptions): Scheduler {
    if (this.closing)
      throw new SundialError('SUNDIAL_CLOSED', 'This Sundial is closed; create a new one to schedule');
    const tasks =
      schedule instanceof Schedule ? schedule.load({ masker: this.masker, clock: this.clock }) : schedule;
    const scheduler = new Scheduler(this.context, (name) => this.queueToUse(name), tasks, options);
    // Known to the admin surface whatever environment they are limited to: it describes them all.
    for (const task of tasks) this.knownTasks.set(task.definition.id, task);
    this.schedulers.add(scheduler);
    return scheduler;
  }

  /**
   * Starts a worker that runs `schedule`'s `call`, `command` and `ping` tasks when they fire
   * (job tasks go to their own queues and their own workers).
   */
  taskWorker(
    schedule: Schedule | readonly LoadedTask[],
    options: WorkerOptions & TaskRunnerOptions & { taskQueue?: string } = {},
  ): Worker {
    const tasks =
      schedule instanceof Schedule ? schedule.load({ masker: this.masker, clock: this.clock }) : schedule;
    const {
      taskQueue,
      allowedCommands,
      killGraceMs,
      pingTimeoutMs,
      hookTimeoutMs,
      maxOutputBytes,
      secretKeys,
      locks,
      lockTtlMs,
      containment,
      onWarning,
      ...rest
    } = options;
    const runner = {
      allowedCommands,
      killGraceMs,
      pingTimeoutMs,
      hookTimeoutMs,
      maxOutputBytes,
      secretKeys,
      locks: locks ?? this.locks,
      lockTtlMs,
      containment,
      // A worker's warning must not go unheard: `error` listeners, or a process warning.
      onWarning:
        onWarning ??
        ((warning: SundialError) => {
          if (this.events.has('error')) this.events.emit('error', { error: warning, context: 'task worker' });
          else process.emitWarning(warning.message, { code: warning.code });
        }),
    };
    // A run's result holds its output, which JSON can make up to six times longer (control
    // characters become \u escapes): room for all of it, unless the app sets its own limit.
    const outputRoom = 6 * (typeof maxOutputBytes === 'number' ? maxOutputBytes : 64 * 1024) + 64 * 1024;
    const workerOptions: WorkerOptions = { maxResultBytes: Math.max(1_048_576, outputRoom), ...rest };
    return this.worker(
      taskQueue ?? DEFAULT_TASK_QUEUE,
      taskHandlers(tasks, runner, this.masker, this.clock),
      workerOptions,
    );
  }

  /**
   * Stops one run (a run id, `run:42`, or a process id, `pid:1234`) without stopping the worker
   * running it: its job is cancelled and its worker, told at once, aborts it. See `interruptRun`.
   */
  interrupt(target: string): Promise<Interrupted> {
    return interruptRun(this, target);
  }

  /**
   * The operator's surface: jobs, dead letters, queues, schedules, locks, maintenance, and the bulk
   * operations they start (see `Admin`). Schedules are those this Sundial's schedulers define.
   */
  get admin(): Admin {
    this.adminSurface ??= new Admin({
      store: this.store,
      clock: this.clock,
      // Not kept: an operator may name any queue, and a queue is cheap to make.
      queue: (name) =>
        this.queues.get(name) ?? this.buildOnlyQueues.get(name) ?? new Queue(name, this.context),
      locks: this.locks,
      tasks: () => [...this.knownTasks.values()],
      trigger: async (task, options) => {
        // A scheduler that defines it; else any, whose refusal lists the tasks it knows.
        const schedulers = [...this.schedulers];
        const scheduler = schedulers.find((s) => s.taskIds.includes(task)) ?? schedulers[0];
        if (!scheduler) {
          throw new SundialError(
            'SUNDIAL_UNKNOWN_TASK',
            `No scheduler of this Sundial defines task ${JSON.stringify(task)}`,
          );
        }
        return scheduler.trigger(task, options);
      },
      operations: new Operations(this.clock),
    });
    return this.adminSurface;
  }

  /**
   * The app's queue of that name, or one with default options that is not registered as the app's,
   * so the app may still make it with its own options later (the scheduler fires through these).
   */
  private queueToUse(name: string): Queue {
    const existing = this.queues.get(name) ?? this.buildOnlyQueues.get(name);
    if (existing) return existing;
    const queue = new Queue(name, this.context);
    this.buildOnlyQueues.set(name, queue);
    return queue;
  }

  /** Locks kept in this Sundial's store (see `LockProvider`). */
  get locks(): LockProvider {
    this.lockProvider ??= new LockProvider(this.store, { clock: this.clock });
    return this.lockProvider;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<Name extends keyof SundialEvents & string>(name: Name, listener: (event: SundialEvents[Name]) => void) {
    this.bridgeIfTaskRunEvent(name);
    return this.events.on(name, listener);
  }

  once<Name extends keyof SundialEvents & string>(
    name: Name,
    listener: (event: SundialEvents[Name]) => void,
  ) {
    this.bridgeIfTaskRunEvent(name);
    return this.events.once(name, listener);
  }

  private bridgeIfTaskRunEvent(name: string): void {
    if (this.taskEventsBridged || !needsTaskEventBridge(name)) return;
    this.taskEventsBridged = true;
    bridgeTaskEvents(this.events);
  }

  /** Closes every worker (gracefully, within `graceMs`), stores pending adds, closes the store. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.schedulers].map((scheduler) => scheduler.close()));
      await Promise.all([...this.workers].map((worker) => worker.close(options)));
      this.lockProvider?.close();
      await this.context.addBatcher.drain();
      await this.store.close();
    })();
    return this.closing;
  }

  /** Closes gracefully on SIGTERM/SIGINT and exits; a second signal exits at once. */
  closeOnSignals(options?: SignalOptions): () => void {
    return closeOnSignals(this, options);
  }
}

export function createSundial(options?: SundialOptions): Sundial {
  return new Sundial(options);
}

function isStore(value: unknown): value is Store {
  return typeof (value as Store | undefined)?.claimJobs === 'function';
}
