import {
  describeThrown,
  type Job,
  JobTimeoutError,
  SundialError,
  UnknownHandlerError,
  UnserializableError,
} from '../core/index.ts';
import type { SundialContext } from '../queue/index.ts';
import type { JobOutcome } from '../store/index.ts';
import type { HandlerDefinition, JobContext } from './handlers.ts';
import type { ResolvedOptions } from './options.ts';
import { decideOutcome } from './outcome.ts';
import { type Finished, leaseLost, type Running, type Settled } from './running.ts';

/** What a `JobExecutor` needs from its worker. */
export interface ExecutorHost {
  id: string;
  context: SundialContext;
  options: Pick<ResolvedOptions, 'concurrency' | 'maxResultBytes'>;
  handlers: Map<string, HandlerDefinition>;
  /** Whether jobs may start (the worker is running, not closing). */
  isRunning(): boolean;
  /** An attempt ended with this outcome, to be stored. */
  finished(entry: Finished): void;
}

/**
 * Runs a worker's jobs: at most `concurrency` at once, the jobs claimed ahead waiting for a slot.
 * It calls the handler with the job's context, enforces the job's timeout, and turns whatever the
 * handler did (returned, threw, a promise that settled, a value that cannot be read) into the
 * attempt's outcome for the worker to store.
 */
export class JobExecutor {
  /** Jobs running now, by id. */
  readonly running = new Map<string, Running>();
  /** Claimed ahead (`prefetch`), or handed or claimed and not started yet, in order. */
  readonly prefetched: Job[] = [];
  private starting = false;
  private idleWaiters: (() => void)[] = [];
  private readonly host: ExecutorHost;

  constructor(host: ExecutorHost) {
    this.host = host;
  }

  private execute(job: Job): void {
    const handler = this.host.handlers.get(job.name);
    const controller = new AbortController();
    const run: Running = {
      job,
      handler,
      controller,
      // When it starts here: a job claimed ahead may have waited since its claim.
      startedAt: this.host.context.clock.now(),
      timeout: null,
      done: false,
    };
    // Holding this job already means that run lost its lease (cancelled and retried, or recovered
    // while our event loop was stuck) and was not told yet: it must stop, and not speak for this run.
    const previous = this.running.get(job.id);
    if (previous) this.drop(previous, leaseLost(job.id));
    this.running.set(job.id, run);
    this.host.context.events.emit('job.started', { job, worker: this.host.id });

    if (!handler) {
      this.settle(run, {
        ok: false,
        error: new UnknownHandlerError(job.name, job.queue, [...this.host.handlers.keys()]),
      });
      return;
    }
    if (job.timeout !== null) {
      const timeoutMs = job.timeout;
      run.timeout = setTimeout(() => {
        const error = new JobTimeoutError(timeoutMs);
        controller.abort(error);
        // The attempt fails now even if the handler ignores its signal; its late result is dropped.
        this.settle(run, { ok: false, error });
      }, timeoutMs);
    }
    const context: JobContext = {
      job,
      signal: controller.signal,
      attempt: job.attempt,
      worker: this.host.id,
    };
    let result: unknown;
    try {
      result = handler.handle(job.payload, context);
    } catch (error) {
      this.settle(run, { ok: false, error });
      return;
    }
    // Asking a result whether it is a promise runs user code too (a `then` getter, a revoked proxy):
    // a result that cannot even be asked cannot be stored either, and fails the attempt for good.
    let then: ReturnType<typeof thenOf>;
    try {
      then = thenOf(result);
    } catch (error) {
      this.settle(run, { ok: false, error: UnserializableError.unreadable('result', describeThrown(error)) });
      return;
    }
    if (!then) {
      this.settle(run, { ok: true, result });
      return;
    }
    try {
      then.call(
        result,
        (value: unknown) => this.settle(run, { ok: true, result: value }),
        (error: unknown) => this.settle(run, { ok: false, error }),
      );
    } catch (error) {
      this.settle(run, { ok: false, error });
    }
  }

  private settle(run: Running, settled: Settled): void {
    if (run.done) return;
    this.forget(run);
    const input = {
      job: run.job,
      worker: this.host.id,
      startedAt: run.startedAt,
      finishedAt: this.host.context.clock.now(),
      handler: run.handler,
      maxResultBytes: this.host.options.maxResultBytes,
      masker: this.host.context.masker,
    };
    let outcome: JobOutcome;
    try {
      outcome = decideOutcome({ ...input, settled });
    } catch (error) {
      // A bug of ours or a value no guard foresaw: the attempt still ends, as a failure of this.
      settled = {
        ok: false,
        error: new SundialError(
          'SUNDIAL_OUTCOME_FAILED',
          `Its outcome could not be decided: ${describeThrown(error).message}`,
        ),
      };
      outcome = decideOutcome({ ...input, settled });
    }
    this.host.finished({ job: run.job, outcome, settled });
  }

  /**
   * Starts claimed jobs (and those claimed ahead) while slots are free. Not re-entered: a job that
   * ends at once frees its slot inside `execute`, and this loop, not a nested call, takes the next.
   */
  startPrefetched(): void {
    if (this.starting) return;
    this.starting = true;
    try {
      while (
        this.prefetched.length > 0 &&
        this.running.size < this.host.options.concurrency &&
        this.host.isRunning()
      ) {
        this.execute(this.prefetched.shift()!);
      }
    } finally {
      this.starting = false;
    }
  }

  /** Ends our interest in a run: no outcome will be stored for it. */
  private forget(run: Running): void {
    run.done = true;
    if (run.timeout) clearTimeout(run.timeout);
    if (this.running.get(run.job.id) === run) this.running.delete(run.job.id);
    // Any slot that frees (a finish, a drop) goes to a job claimed ahead, if one waits.
    if (this.prefetched.length > 0 && !this.starting) queueMicrotask(() => this.startPrefetched());
    if (this.running.size === 0) this.notifyIdle();
  }

  /** Gives up a run whose result nobody will store, and tells its handler through the signal. */
  drop(run: Running, reason: Error): void {
    if (run.done) return;
    this.forget(run);
    run.controller.abort(reason);
  }

  waitForIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.idleWaiters.push(finish);
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** The `then` of a promise-like value, or null for a plain value. */
function thenOf(
  value: unknown,
): ((onValue: (v: unknown) => void, onError: (e: unknown) => void) => unknown) | null {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return null;
  const then = (value as { then?: unknown }).then;
  return typeof then === 'function' ? (then as ReturnType<typeof thenOf>) : null;
}
