import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Clock, type Job, SundialError } from '../core/index.ts';
import { isProcessAlive, type LockProvider } from '../locks/index.ts';
import type { Store } from '../store/index.ts';

/** What interrupting needs: the store holding the runs and the locks they hold. */
export interface InterruptContext {
  store: Store;
  locks: LockProvider;
  clock: Clock;
}

/** What `sundial interrupt` stopped. */
export interface Interrupted {
  runId: string;
  queue: string;
  taskId: string | null;
  /** The process it was found by, when given a pid. */
  pid: number | null;
  /** Whether that process belongs to the run (a command), so it ends with it (not a worker). */
  pidEndsWithRun: boolean;
  /** Whether the run held its task's lock when it was interrupted (its release shows it stopped). */
  heldLock: boolean;
}

/**
 * Stops one run without stopping the daemon that runs it: the run's job is cancelled, and its worker
 * (told at once through the store) aborts it; a command is stopped with what it started (its PID
 * namespace, or its process group: see containment.ts).
 *
 * `target` is a run id (a job id: `run:42` or `42`) or a process id (`pid:1234` or `1234`): the
 * pid of a task's command (or anything it started, which inherits `SUNDIAL_RUN_ID`), or of a worker
 * process running a single locked task run. Pids are the host's, as `ps` there shows them: inside
 * its PID namespace a command sees other numbers (`$$`). A bare number that could be either is refused.
 */
export async function interruptRun(sundial: InterruptContext, target: string): Promise<Interrupted> {
  const match = /^(?:(run|pid):)?(\d+)$/.exec(target.trim());
  if (!match) {
    throw new SundialError(
      'SUNDIAL_INVALID_OPTION',
      `Invalid run: ${JSON.stringify(target)} (a run id like 42 or run:42, or a process id like pid:1234)`,
    );
  }
  const [, kind, number] = match as unknown as [string, 'run' | 'pid' | undefined, string];
  let runId = number;
  let found: ProcessRun | null = null;
  if (kind === 'pid') {
    found = await runOfProcess(sundial, Number(number));
  } else if (kind === undefined) {
    const asRun = await sundial.store.getJob(number);
    const asPid = isProcessAlive(Number(number))
      ? await runOfProcess(sundial, Number(number)).catch(() => null)
      : null;
    if (asRun?.state === 'active' && asPid !== null && asPid.runId !== number) {
      throw new SundialError(
        'SUNDIAL_AMBIGUOUS_RUN',
        `${number} is both a running job and the process of run ${asPid.runId}: say run:${number} or pid:${number}`,
      );
    }
    if (asRun?.state !== 'active') found = asPid;
  }
  if (found) runId = found.runId;
  const job = await activeJob(sundial, runId);
  const heldLock = await holdsLock(sundial, job.id);
  const cancelled = await sundial.store.cancelJob(job.id, {
    queue: job.queue,
    from: ['active'],
    now: sundial.clock.now(),
  });
  if (!cancelled.ok) {
    throw new SundialError('SUNDIAL_NOT_RUNNING', `Run ${runId} ended before it could be interrupted`);
  }
  return {
    runId: job.id,
    queue: job.queue,
    taskId: job.origin?.schedule ?? null,
    pid: found?.pid ?? null,
    pidEndsWithRun: found?.endsWithRun ?? false,
    heldLock,
  };
}

/**
 * Waits until the interrupted run has let go of its task's lock and, when it was found by its own
 * process, until that process is gone: true once it has stopped, false when it is still going after
 * `timeoutMs`, null when nothing shows its end (a run without a task lock or a process of its own:
 * its worker aborts it, but the run leaves no trace of that in the store).
 */
export async function waitUntilStopped(
  sundial: InterruptContext,
  run: Interrupted,
  timeoutMs: number,
): Promise<boolean | null> {
  const watchProcess = run.pidEndsWithRun && run.pid !== null;
  if (!run.heldLock && !watchProcess) return null;
  // Real time, not the Sundial's clock: this waits for a process, whatever time the store keeps.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const locked = run.heldLock && (await holdsLock(sundial, run.runId));
    const processAlive = watchProcess && isProcessAlive(run.pid!);
    if (!locked && !processAlive) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function holdsLock(sundial: InterruptContext, runId: string): Promise<boolean> {
  return (await sundial.locks.list()).some((lock) => lock.owner.runId === `job ${runId}`);
}

interface ProcessRun {
  pid: number;
  runId: string;
  endsWithRun: boolean;
}

async function activeJob(sundial: InterruptContext, runId: string): Promise<Job> {
  const job = await sundial.store.getJob(runId);
  if (!job) throw new SundialError('SUNDIAL_NOT_FOUND', `No run ${runId}`);
  if (job.state !== 'active') {
    throw new SundialError('SUNDIAL_NOT_RUNNING', `Run ${runId} is not running (it is ${job.state})`);
  }
  return job;
}

/** The run a process belongs to: from its environment, else from the task lock it holds. */
async function runOfProcess(sundial: InterruptContext, pid: number): Promise<ProcessRun> {
  if (!isProcessAlive(pid)) throw new SundialError('SUNDIAL_NOT_FOUND', `No process ${pid} is running`);
  const fromEnvironment = runIdInEnvironment(pid);
  if (fromEnvironment) return { pid, runId: fromEnvironment, endsWithRun: true };
  // A worker process: its runs hold task locks named after their job (`job <id>`).
  const host = hostname();
  const runs = (await sundial.locks.list())
    .filter((lock) => lock.owner.host === host && lock.owner.pid === pid)
    .map((lock) => /^job (\d+)$/.exec(lock.owner.runId)?.[1])
    .filter((id): id is string => id !== undefined);
  if (runs.length === 1) return { pid, runId: runs[0]!, endsWithRun: false };
  if (runs.length > 1) {
    throw new SundialError(
      'SUNDIAL_AMBIGUOUS_RUN',
      `Process ${pid} is running ${runs.length} task runs (${runs.join(', ')}): interrupt one by its run id`,
    );
  }
  throw new SundialError(
    'SUNDIAL_NOT_FOUND',
    `Process ${pid} is not running a Sundial task (no SUNDIAL_RUN_ID in its environment, no task lock held by it)`,
  );
}

/** `SUNDIAL_RUN_ID` from a process's environment (Linux's /proc); null where it cannot be read. */
function runIdInEnvironment(pid: number): string | null {
  try {
    const environment = readFileSync(`/proc/${pid}/environ`, 'utf8');
    for (const entry of environment.split('\0')) {
      if (entry.startsWith('SUNDIAL_RUN_ID=')) return entry.slice('SUNDIAL_RUN_ID='.length) || null;
    }
  } catch {
    // Not Linux, or not our process to read.
  }
  return null;
}
