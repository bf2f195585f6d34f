import { EventEmitter } from 'node:events';
import type { Job, JobError } from './job.ts';
import { describeThrown } from './thrown.ts';

/** Everything Sundial reports while it works. Listen with `sundial.on(name, listener)`. */
export interface SundialEvents {
  'job.added': { job: Job };
  'job.started': { job: Job; worker: string };
  'job.completed': { job: Job; result: unknown; durationMs: number; worker: string };
  /** An attempt failed; `job.retrying` or `job.dead` follows. */
  'job.failed': { job: Job; error: JobError; durationMs: number; worker: string };
  'job.retrying': { job: Job; error: JobError; delayMs: number; runAt: number };
  'job.dead': { job: Job; error: JobError };
  /**
   * A running job was stopped because its worker lost its lease: it was cancelled (an interrupt, a
   * replaced task run) or, after a missed heartbeat, taken over as stalled. Its outcome is not stored.
   */
  'job.interrupted': { job: Job; worker: string };
  /**
   * A job whose worker stopped renewing its lease was recovered (`recovered`: back to waiting) or,
   * past `maxStalls`, made dead; `job` as it is after that.
   */
  'job.stalled': { job: Job; recovered: boolean };
  'worker.started': { worker: string; queue: string; concurrency: number };
  'worker.stopped': { worker: string; queue: string; released: number };
  /** A scheduled task's occurrence was fired: its job is in the store. */
  'task.fired': { taskId: string; scheduledFor: number; catchUp: boolean; jobId: string };
  /** An occurrence did not run: missed while no scheduler ran, still running (overlap), or a constraint said no. */
  'task.skipped': {
    taskId: string;
    scheduledFor: number;
    reason: 'missed' | 'overlap' | 'constraint' | 'maintenance';
  };
  /** A `replace` task's occurrence cancelled the run still going (`jobId`); the new run follows. */
  'task.replaced': { taskId: string; scheduledFor: number; jobId: string };
  /** A run of a task began (`runId` is its job's id). */
  'task.starting': TaskRun & { attempt: number };
  /** A run succeeded; `output` is what it printed or logged (masked, truncated), null for job tasks. */
  'task.finished': TaskRun & { durationMs: number; output: string | null };
  /** A run failed and will not be tried again (the error message carries its output). */
  'task.failed': TaskRun & { error: JobError };
  /** A run failed and is tried again at `runAt`. */
  'task.retrying': TaskRun & { error: JobError; runAt: number };
  /** A run was stopped: interrupted, or replaced by a newer occurrence. */
  'task.interrupted': TaskRun;
  'scheduler.started': { scheduler: string; tasks: number };
  'scheduler.stopped': { scheduler: string };
  /** Something went wrong outside any one job (a store error in the claim loop, say). */
  error: { error: unknown; context: string };
}

/** Which run of which task an event is about. */
export interface TaskRun {
  taskId: string;
  runId: string;
  /** The occurrence the run is for (for a run started by hand, when it was asked for). */
  scheduledFor: number;
}

export type SundialEventName = keyof SundialEvents;

/** What to do to an event before its listeners hear it (mask the secrets in it, say), by name. */
export type EventPreparers<Events extends object> = {
  [Name in keyof Events]?: (event: Events[Name]) => Events[Name];
};

/** A typed face on Node's EventEmitter. */
export class TypedEmitter<Events extends object> {
  private readonly emitter = new EventEmitter();
  private readonly prepare: EventPreparers<Events>;
  private readonly unheard: ((name: keyof Events & string, event: unknown) => void) | undefined;

  /**
   * `prepare`: turns an event into what listeners get (masking, say). `unheard`: told of each event
   * emitted while nobody listens for it, as prepared.
   */
  constructor(
    options: {
      prepare?: EventPreparers<Events>;
      unheard?: (name: keyof Events & string, event: unknown) => void;
    } = {},
  ) {
    this.emitter.setMaxListeners(0);
    this.prepare = options.prepare ?? {};
    this.unheard = options.unheard;
  }

  on<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  once<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): () => void {
    this.emitter.once(name, listener);
    return () => this.emitter.off(name, listener);
  }

  off<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): void {
    this.emitter.off(name, listener);
  }

  /** True when someone listens, so hot paths can skip building an event nobody reads. */
  has(name: keyof Events & string): boolean {
    return this.emitter.listenerCount(name) > 0;
  }

  /**
   * Calls the listeners. One that throws must not break whoever emitted (a worker mid-claim): its
   * error goes to the `error` event, or, from an `error` listener, to a process warning.
   */
  emit<Name extends keyof Events & string>(name: Name, given: Events[Name]): void {
    const listening = this.emitter.listenerCount(name) > 0;
    if (!listening && !this.unheard) return;
    const event = this.prepare[name]?.(given) ?? given;
    if (!listening) {
      this.unheard?.(name, event);
      return;
    }
    for (const listener of this.emitter.listeners(name)) {
      try {
        (listener as (event: Events[Name]) => void)(event);
      } catch (error) {
        if (name !== 'error' && this.emitter.listenerCount('error') > 0) {
          this.emit('error' as Name, { error, context: `a listener of ${name}` } as Events[Name]);
        } else {
          // Whatever it threw is read without trusting it: a revoked proxy must not escape `emit`.
          const thrown = describeThrown(error);
          process.emitWarning(
            `A listener of ${name} threw: ${thrown.stack ?? `${thrown.name}: ${thrown.message}`}`,
          );
        }
      }
    }
  }
}
