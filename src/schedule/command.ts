import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { UnrecoverableError } from '../core/index.ts';
import { refusedEnv } from './command-env.ts';
import {
  type Containment,
  type ContainmentMode,
  commandOutcome,
  containedArgv,
  containmentFor,
} from './containment.ts';
import type { OutputBuffer } from './output.ts';
import type { TaskAction } from './task.ts';

export interface CommandRunOptions {
  /**
   * Executables `command` tasks may run (names like `pg_dump`, or absolute paths); anything else is
   * refused before it is spawned. Default: no restriction.
   */
  allowedCommands?: string[];
  /** Between SIGTERM and SIGKILL when a command is stopped. Default 5 s. */
  killGraceMs?: number;
  /**
   * What holds a command's processes together so they all stop with its run and with its worker:
   * `'auto'` (default) a PID namespace where the host allows it, else the process group with a
   * warning; `'namespace'` refuses to start a worker where it is not available; `'process-group'`
   * never tries. See `detectContainment()`.
   */
  containment?: ContainmentMode;
}

/**
 * Runs a command task: an argv array with no shell (so no interpolation) unless the task asked for
 * `.shell()`, in a process group of its own (and, where the host allows it, a PID namespace: see
 * containment.ts), stdout and stderr into `output`. When `signal` aborts (the task's timeout, an
 * interrupt, shutdown) the group gets SIGTERM, then SIGKILL after the grace period; whatever is
 * left of the command (a namespace: everything it started) is killed when it ends.
 */
export function runCommand(
  action: Extract<TaskAction, { kind: 'command' }>,
  signal: AbortSignal,
  output: OutputBuffer,
  options: CommandRunOptions,
  /** Told to the command about its run (`SUNDIAL_RUN_ID`, which `sundial interrupt` looks for). */
  runEnv: Record<string, string> = {},
  /** Decided once by the task worker; found from `options.containment` when not given. */
  containment?: Containment,
): Promise<{ exitCode: number }> {
  // Checked at definition too; again here for actions made or changed some other way.
  const refusal =
    envRefusal(action, options.allowedCommands) ??
    (options.allowedCommands ? allowlistRefusal(action, options.allowedCommands) : null);
  if (refusal) return Promise.reject(new UnrecoverableError(refusal));
  if (signal.aborted) return Promise.reject(signal.reason);
  let contained: Containment;
  try {
    contained = containment ?? containmentFor(options.containment ?? 'auto');
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const own = action.shell
      ? ['/bin/sh', '-c', [action.command, ...action.args.map(shellQuote)].join(' ')]
      : [action.command, ...action.args];
    const [file, ...args] = containedArgv(contained, own);
    // Its own process group (detached), so a stop reaches everything it started that stayed in it.
    const child = spawn(file!, args, {
      cwd: action.cwd ?? undefined,
      env: { ...process.env, ...action.env, ...runEnv },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => output.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.write(chunk));
    let killTimer: NodeJS.Timeout | null = null;
    const stop = () => {
      killGroup(child.pid, 'SIGTERM');
      // Kept referenced: a shutting-down process waits to send the SIGKILL rather than leave it out.
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 5000);
    };
    signal.addEventListener('abort', stop, { once: true });
    let settled = false;
    const finish = (status: number | null, signalled: NodeJS.Signals | null) => {
      if (settled) return;
      const { code, signal: killedBy } = commandOutcome(contained, status, signalled);
      settled = true;
      signal.removeEventListener('abort', stop);
      if (killTimer) clearTimeout(killTimer);
      // Whatever it left running in its group goes too, and with it any pipe it still holds open (in
      // a namespace the kernel has already killed the rest when its first process ended).
      killGroup(child.pid, 'SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      if (code === 0) resolve({ exitCode: 0 });
      else if (signal.aborted) reject(signal.reason);
      else
        reject(
          new Error(killedBy ? `Command was killed by ${killedBy}` : `Command exited with code ${code}`),
        );
    };
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', stop);
      reject(error);
    });
    // 'close' waits for the pipes, which a background grandchild may hold open for ever: once the
    // command itself has exited, give its output a moment to drain, then finish regardless.
    child.once('exit', (code, killedBy) => setTimeout(() => finish(code, killedBy), EXIT_DRAIN_MS));
    child.once('close', (code, killedBy) => finish(code, killedBy));
  });
}

/** How long output may still arrive after the command exited. */
const EXIT_DRAIN_MS = 200;

/** Why the allowlist refuses this command, or null when it may run. */
function allowlistRefusal(
  action: Extract<TaskAction, { kind: 'command' }>,
  allowed: readonly string[],
): string | null {
  const list = allowed.join(', ');
  // A shell line can run anything after a `;` or inside `$(...)`: only allowed if the shell is.
  if (action.shell && !allowed.includes('sh') && !allowed.includes('/bin/sh')) {
    return `Shell command ${JSON.stringify(action.command)} is not allowed: with allowedCommands set, .shell() needs "sh" in the list (allowedCommands: ${list})`;
  }
  const executable = action.shell ? (action.command.trim().split(/\s+/)[0] ?? '') : action.command;
  const ok =
    allowed.includes(executable) || (!executable.includes('/') && allowed.includes(basename(executable)));
  return ok ? null : `Command ${JSON.stringify(executable)} is not allowed (allowedCommands: ${list})`;
}

/** Why the command may not run with its environment (see command-env.ts), or null when it may. */
function envRefusal(
  action: Extract<TaskAction, { kind: 'command' }>,
  allowed: readonly string[] | undefined,
): string | null {
  const refused = refusedEnv(action.env, allowed !== undefined);
  if (!refused) return null;
  const list = allowed ? ` (allowedCommands: ${allowed.join(', ')})` : '';
  return `Command ${JSON.stringify(action.command)} sets ${refused.name}, ${refused.reason}${list}`;
}

/** Quotes one argument for /bin/sh, so a value never becomes shell syntax. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
