import { formatWithOptions } from 'node:util';
import {
  type Clock,
  defaultMasker,
  describeThrown,
  InvalidOptionError,
  isErrorSafely,
  type Job,
  JobTimeoutError,
  type Masker,
  SundialError,
  systemClock,
  UnrecoverableError,
} from '../core/index.ts';
import type { HeldLock, LockProvider } from '../locks/index.ts';
import { type CommandRunOptions, runCommand } from './command.ts';
import { type Containment, containmentFor, containmentWarning } from './containment.ts';
import { OutputBuffer, type OutputOptions } from './output.ts';
import { checkTaskRunnerOptions } from './runner-options.ts';
import type { LoadedTask } from './schedule.ts';
import type { TaskRunPayload } from './scheduler.ts';
import type { TaskAction, TaskHook, TaskRunInfo } from './task.ts';

export interface TaskRunnerOptions extends OutputOptions, CommandRunOptions {
  /**
   * Where a run takes its task's lock (`task:<id>`), so two runs of one task never overlap, even
   * one started by hand. Not taken for tasks that allow overlapping. Default: none.
   */
  locks?: LockProvider;
  /** How long a run's lock outlives its last heartbeat. Default 60 s. */
  lockTtlMs?: number;
  /** How long a `ping` waits for an answer, unless the task's own timeout is shorter. Default 30 s. */
  pingTimeoutMs?: number;
  /** How long one hook may take before the run goes on without it. Default 30 s. */
  hookTimeoutMs?: number;
  /**
   * Hears what the task worker warns about, once, when it is made: commands contained by their
   * process group only (see `containment`). Default: a process warning. `sundial.taskWorker` tells
   * the Sundial's `error` listeners instead when it has any.
   */
  onWarning?: (warning: SundialError) => void;
}

/**
 * The options as a task worker runs with them: its containment decided once, when it is made, and
 * the masker its output and errors are masked with.
 */
interface RunnerSettings extends TaskRunnerOptions {
  contained: Containment | null;
  masker: Masker;
  /** The Sundial's clock: a run's start and end are its times, like every other time it stores. */
  clock: Clock;
}

/** What a successful run stores as its job's result. */
export interface TaskRunResult {
  output: string;
  /** Set when the run did nothing because another run of the task held its lock. */
  skipped?: string;
  exitCode?: number;
  status?: number;
}

/**
 * The handler that runs `call`, `command` and `ping` tasks fired onto the task queue. Each run's
 * output (command stdout and stderr, `log()` of a function, a ping's answer) is captured, masked
 * and truncated into the job's result, or into its error when it fails.
 */
/**
 * What a worker hands a handler, as far as the runner needs it. (Declared here rather than imported:
 * the worker layer sits beside this one, and the shapes match.)
 */
export interface TaskRunContext {
  job: Job;
  signal: AbortSignal;
}

/** A run as the runner tracks it: work it started that outlived an abort keeps the lock held. */
interface RunContext extends TaskRunContext {
  /** Functions and hooks still going after the run was given up on (they ignored its signal). */
  stillRunning: Promise<unknown>[];
}

/**
 * `masker`: the Sundial's rule set (`sundial.masker`); `options.secretKeys` add to it. `clock`: the
 * Sundial's clock (`sundial.clock`), which times each run.
 */
export function taskHandlers(
  tasks: readonly LoadedTask[],
  options: TaskRunnerOptions = {},
  masker: Masker = defaultMasker,
  clock: Clock = systemClock,
): { task: { handle: (payload: TaskRunPayload, context: TaskRunContext) => Promise<TaskRunResult> } } {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an object of task runner options');
  }
  checkTaskRunnerOptions(options as Record<string, unknown>, 'options');
  if (!options.locks) {
    // Their runs wait for the task's lock to take turns; without locks they would run side by side.
    const waiting = tasks.filter((task) => ['bufferOne', 'replace'].includes(task.definition.overlap));
    if (waiting.length > 0) {
      throw new InvalidOptionError(
        'locks',
        undefined,
        `tasks ${waiting.map((task) => JSON.stringify(task.definition.id)).join(', ')} use overlap 'bufferOne' or 'replace', whose runs wait for the task's lock: pass a LockProvider`,
      );
    }
  }
  // Probed (once per process) only for workers that run commands, or that insist on a namespace.
  const runsCommands = tasks.some((task) => task.definition.action.kind === 'command');
  const contained =
    runsCommands || options.containment === 'namespace'
      ? containmentFor(options.containment ?? 'auto', 'options.containment')
      : null;
  const warning =
    runsCommands && contained ? containmentWarning(options.containment ?? 'auto', contained) : null;
  if (warning) {
    if (options.onWarning) options.onWarning(warning);
    else process.emitWarning(warning.message, { code: warning.code });
  }
  const settings: RunnerSettings = {
    ...options,
    contained,
    // Folded in once: a bad key name is refused when the worker is made, not at its first run.
    masker: masker.withKeys(options.secretKeys ?? [], 'options.secretKeys'),
    clock,
  };
  const byId = new Map(tasks.map((task) => [task.definition.id, task]));
  return {
    task: {
      handle: async (payload: TaskRunPayload, context: TaskRunContext) => {
        const task = byId.get(payload?.taskId);
        if (!task) {
          throw new UnrecoverableError(
            `No task ${JSON.stringify(payload?.taskId)} is defined in this worker's schedule`,
          );
        }
        // A run forced by hand goes beside a live run: it neither takes nor touches the task's lock.
        const runner = payload.force === true ? { ...settings, locks: undefined } : settings;
        return runTask(task, { ...context, stillRunning: [] }, runner);
      },
    },
  };
}

async function runTask(
  task: LoadedTask,
  context: RunContext,
  options: RunnerSettings,
): Promise<TaskRunResult> {
  const { definition } = task;
  if (!options.locks || definition.overlap === 'allow') return runUnlocked(task, context, options);
  const locks = options.locks;
  const acquire = () =>
    locks.acquire(`task:${definition.id}`, {
      ttlMs: options.lockTtlMs ?? 60_000,
      runId: `job ${context.job.id}`,
    });
  // A 'bufferOne' or 'replace' run was added while another run went on: it waits for its turn
  // (the end of that run, or its interrupt) instead of being skipped.
  const lock = definition.overlap === 'skip' ? await acquire() : await waitForLock(acquire, context.signal);
  if (!lock) {
    const holder = (await options.locks.list()).find((l) => l.name === `task:${definition.id}`);
    const who = holder
      ? `${holder.owner.runId} (pid ${holder.owner.pid} on ${holder.owner.host})`
      : 'another run';
    return { output: '', skipped: `the task's lock is held by ${who}` };
  }
  try {
    // Losing the lock (cleared by hand, or taken after a missed heartbeat) stops the run too.
    return await runUnlocked(
      task,
      { ...context, signal: AbortSignal.any([context.signal, lock.signal]) },
      options,
    );
  } finally {
    if (context.stillRunning.length === 0) await lock.release();
    // The run is over for its job, but a function that ignored its signal is still going: the lock
    // (and its heartbeat) stays until it ends, so no later run starts beside it.
    else void Promise.allSettled(context.stillRunning).then(() => lock.release().catch(() => {}));
  }
}

/** How soon a waiting run tries its task's lock again: doubling from the first to the last. */
const LOCK_RETRY_MS = { first: 50, last: 1000 };

async function waitForLock(acquire: () => Promise<HeldLock | null>, signal: AbortSignal): Promise<HeldLock> {
  let delay = LOCK_RETRY_MS.first;
  for (;;) {
    signal.throwIfAborted();
    try {
      const lock = await acquire();
      if (lock) return lock;
    } catch {
      // A store that is briefly busy: the run keeps waiting its turn rather than fail.
    }
    await sleepUnlessAborted(delay, signal);
    delay = Math.min(delay * 2, LOCK_RETRY_MS.last);
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs a task with its own timeout, counted from the moment it holds its lock (time spent waiting
 * behind another run does not count). The runner rather than the worker stops it, so a run that
 * times out keeps its captured output and runs its hooks like any other failure.
 */
async function runUnlocked(
  task: LoadedTask,
  context: RunContext,
  options: RunnerSettings,
): Promise<TaskRunResult> {
  const { timeoutMs } = task.definition;
  if (timeoutMs === null) return runWithHooks(task, context, options);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new JobTimeoutError(timeoutMs)), timeoutMs);
  try {
    return await runWithHooks(
      task,
      { ...context, signal: AbortSignal.any([context.signal, timeout.signal]) },
      options,
    );
  } finally {
    clearTimeout(timer);
  }
}

async function runWithHooks(
  task: LoadedTask,
  context: RunContext,
  options: RunnerSettings,
): Promise<TaskRunResult> {
  const { definition } = task;
  const secretValues = definition.action.kind === 'command' ? Object.values(definition.action.env) : [];
  const output = new OutputBuffer({ maxOutputBytes: options.maxOutputBytes }, secretValues, options.masker);
  const startedAt = options.clock.now();
  const info = (ok: boolean | null, error: unknown): TaskRunInfo => ({
    taskId: definition.id,
    scheduledFor: context.job.origin?.scheduledFor ?? context.job.createdAt,
    startedAt,
    finishedAt: ok === null ? null : options.clock.now(),
    ok,
    output: output.text(),
    // Masked like the output: a failing ping's error carries its URL, and so any password in it.
    error:
      error === null ? null : { name: 'Error', message: output.mask(errorMessage(error)), category: 'error' },
  });
  const hooks = (list: readonly TaskHook[], run: TaskRunInfo) =>
    runHooks(list, run, output, options.hookTimeoutMs ?? 30_000);
  await hooks(definition.hooks.before, info(null, null));
  try {
    const result = await perform(definition.action, definition.id, context, output, options);
    await hooks(definition.hooks.onSuccess, info(true, null));
    await hooks(definition.hooks.after, info(true, null));
    return { ...result, output: output.text() };
  } catch (error) {
    const failed = info(false, error);
    await hooks(definition.hooks.onFailure, failed);
    await hooks(definition.hooks.after, failed);
    const reason = output.mask(errorMessage(error));
    // Retrying cannot help a refused command: it stays unrecoverable, straight to dead.
    if (isErrorSafely(error) && error instanceof UnrecoverableError)
      throw new UnrecoverableError(reason, { cause: error });
    throw new TaskFailedError(reason, output.text(), error);
  }
}

/** A failed run: the message says why, and carries the captured output (masked) after it. */
export class TaskFailedError extends SundialError {
  readonly output: string;

  constructor(reason: string, output: string, cause: unknown) {
    super('SUNDIAL_TASK_FAILED', output ? `${reason}\n--- output ---\n${output}` : reason, { cause });
    this.output = output;
  }
}

function perform(
  action: TaskAction,
  taskId: string,
  context: RunContext,
  output: OutputBuffer,
  options: RunnerSettings,
): Promise<Omit<TaskRunResult, 'output'>> {
  switch (action.kind) {
    case 'call':
      // A function may ignore its signal: the run still ends when it aborts.
      return untilAborted(
        runFunction(action.fn, taskId, context, output),
        context.signal,
        context.stillRunning,
      );
    case 'command':
      // Ends by itself once the aborted command is gone (SIGKILL after the grace).
      return runCommand(
        action,
        context.signal,
        output,
        options,
        { SUNDIAL_TASK_ID: taskId, SUNDIAL_RUN_ID: context.job.id },
        options.contained ?? undefined,
      );
    case 'ping':
      return runPing(action, context.signal, output, options.pingTimeoutMs ?? 30_000);
    case 'job':
      // Job tasks are added straight to their own queue and never reach the task runner.
      throw new UnrecoverableError(
        `Task ${taskId} adds jobs to queue ${action.queue}; it has nothing to run here`,
      );
  }
}

/** `work`'s outcome, or the signal's reason once it aborts (`work`, still going, joins `stillRunning`). */
function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
  stillRunning: Promise<unknown>[],
): Promise<T> {
  if (signal.aborted) {
    stillRunning.push(work);
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      stillRunning.push(work);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function runFunction(
  fn: Extract<TaskAction, { kind: 'call' }>['fn'],
  taskId: string,
  context: TaskRunContext,
  output: OutputBuffer,
): Promise<Omit<TaskRunResult, 'output'>> {
  await fn({
    taskId,
    scheduledFor: context.job.origin?.scheduledFor ?? context.job.createdAt,
    signal: context.signal,
    log: (...parts: unknown[]) => output.write(`${formatWithOptions({ colors: false }, ...parts)}\n`),
  });
  return {};
}

async function runPing(
  action: Extract<TaskAction, { kind: 'ping' }>,
  signal: AbortSignal,
  output: OutputBuffer,
  timeoutMs: number,
): Promise<Omit<TaskRunResult, 'output'>> {
  const response = await fetch(action.url, {
    method: action.method,
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  output.write(`${action.method} ${action.url} -> ${response.status} ${response.statusText}\n`);
  if (action.method !== 'HEAD') await readAnswer(response, output);
  if (!response.ok) throw new Error(`${action.url} answered ${response.status} ${response.statusText}`);
  return { status: response.status };
}

/** Reads an answer into the output, no further than the output keeps: a huge body is not held. */
async function readAnswer(response: Response, output: OutputBuffer): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    output.write(Buffer.from(value));
    read += value.byteLength;
    if (read >= output.readLimit) {
      await reader.cancel();
      output.write(`\n[the rest of the answer was not read]\n`);
      return;
    }
  }
}

async function runHooks(
  hooks: readonly TaskHook[],
  info: TaskRunInfo,
  output: OutputBuffer,
  timeoutMs: number,
): Promise<void> {
  // One that takes longer than `timeoutMs` is left behind (noted in the output).
  for (const hook of hooks) {
    const call = Promise.resolve().then(() => hook(info));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    try {
      if ((await Promise.race([call, late])) === 'late') {
        // A hook that never settles must not hold the run (and its worker slot) for ever.
        output.write(`[hook still running after ${timeoutMs} ms; the run goes on without it]\n`);
        // It holds no lock: hooks report on the task's work, they are not part of it.
        call.catch(() => {});
      }
    } catch (error) {
      // A broken hook is reported in the run's output; it does not change how the run ended.
      output.write(`[hook failed: ${errorMessage(error)}]\n`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a failure says, whatever was thrown (a hostile value included: this never throws). */
function errorMessage(error: unknown): string {
  return describeThrown(error).message;
}
