import { formatWithOptions } from 'node:util';
import { type Job, JobTimeoutError, SundialError, UnrecoverableError } from '../core/index.ts';
import { type CommandRunOptions, runCommand } from './command.ts';
import type { HeldLock, LockProvider } from './locks/index.ts';
import { maskSecrets, OutputBuffer, type OutputOptions } from './output.ts';
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

export function taskHandlers(
  tasks: readonly LoadedTask[],
  options: TaskRunnerOptions = {},
): { task: { handle: (payload: TaskRunPayload, context: TaskRunContext) => Promise<TaskRunResult> } } {
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
        return runTask(task, context, options);
      },
    },
  };
}

async function runTask(
  task: LoadedTask,
  context: TaskRunContext,
  options: TaskRunnerOptions,
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
    await lock.release();
  }
}

/** How often a waiting run tries its task's lock again. */
const LOCK_RETRY_MS = 50;

async function waitForLock(acquire: () => Promise<HeldLock | null>, signal: AbortSignal): Promise<HeldLock> {
  for (;;) {
    signal.throwIfAborted();
    const lock = await acquire();
    if (lock) return lock;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, LOCK_RETRY_MS);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Runs a task with its own timeout, counted from the moment it holds its lock (time spent waiting
 * behind another run does not count). The runner rather than the worker stops it, so a run that
 * times out keeps its captured output and runs its hooks like any other failure.
 */
async function runUnlocked(
  task: LoadedTask,
  context: TaskRunContext,
  options: TaskRunnerOptions,
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
  context: TaskRunContext,
  options: TaskRunnerOptions,
): Promise<TaskRunResult> {
  const { definition } = task;
  const secretValues = definition.action.kind === 'command' ? Object.values(definition.action.env) : [];
  const output = new OutputBuffer(options, secretValues);
  const startedAt = Date.now();
  const info = (ok: boolean | null, error: unknown): TaskRunInfo => ({
    taskId: definition.id,
    scheduledFor: context.job.origin?.scheduledFor ?? context.job.createdAt,
    startedAt,
    finishedAt: ok === null ? null : Date.now(),
    ok,
    output: output.text(),
    error: error === null ? null : { name: 'Error', message: errorMessage(error), category: 'error' },
  });
  await runHooks(definition.hooks.before, info(null, null), output);
  try {
    const result = await perform(definition.action, definition.id, context, output, options);
    await runHooks(definition.hooks.onSuccess, info(true, null), output);
    await runHooks(definition.hooks.after, info(true, null), output);
    return { ...result, output: output.text() };
  } catch (error) {
    const failed = info(false, error);
    await runHooks(definition.hooks.onFailure, failed, output);
    await runHooks(definition.hooks.after, failed, output);
    // Retrying cannot help a refused command: it stays unrecoverable, straight to dead.
    if (error instanceof UnrecoverableError) throw error;
    throw new TaskFailedError(
      maskSecrets(errorMessage(error), undefined, secretValues),
      output.text(),
      error,
    );
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
  context: TaskRunContext,
  output: OutputBuffer,
  options: TaskRunnerOptions,
): Promise<Omit<TaskRunResult, 'output'>> {
  switch (action.kind) {
    case 'call':
      // A function may ignore its signal: the run still ends when it aborts.
      return untilAborted(runFunction(action.fn, taskId, context, output), context.signal);
    case 'command':
      // Ends by itself once the aborted command's process group is gone (SIGKILL after the grace).
      return runCommand(action, context.signal, output, options, {
        SUNDIAL_TASK_ID: taskId,
        SUNDIAL_RUN_ID: context.job.id,
      });
    case 'ping':
      return runPing(action, context.signal, output, options.pingTimeoutMs ?? 30_000);
    case 'job':
      // Job tasks are added straight to their own queue and never reach the task runner.
      throw new UnrecoverableError(
        `Task ${taskId} adds jobs to queue ${action.queue}; it has nothing to run here`,
      );
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
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

async function runHooks(hooks: readonly TaskHook[], info: TaskRunInfo, output: OutputBuffer): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook(info);
    } catch (error) {
      // A broken hook is reported in the run's output; it does not change how the run ended.
      output.write(`[hook failed: ${errorMessage(error)}]\n`);
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
