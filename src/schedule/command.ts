import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { UnrecoverableError } from '../core/index.ts';
import type { OutputBuffer } from './output.ts';
import type { TaskAction } from './task.ts';

export interface CommandRunOptions {
  /**
   * Executables `command` tasks may run (names like `pg_dump`, or absolute paths); anything else is
   * refused before it is spawned. Default: no restriction.
   */
  allowedCommands?: string[];
  /** Between SIGTERM and SIGKILL when a command's process group is stopped. Default 5 s. */
  killGraceMs?: number;
}

/**
 * Runs a command task: an argv array with no shell (so no interpolation) unless the task asked for
 * `.shell()`, in a process group of its own, stdout and stderr into `output`. When `signal` aborts
 * (the task's timeout, an interrupt, shutdown) the whole group gets SIGTERM, then SIGKILL after the
 * grace period, so grandchildren do not outlive it.
 */
export function runCommand(
  action: Extract<TaskAction, { kind: 'command' }>,
  signal: AbortSignal,
  output: OutputBuffer,
  options: CommandRunOptions,
): Promise<{ exitCode: number }> {
  const executable = action.shell ? (action.command.trim().split(/\s+/)[0] ?? '') : action.command;
  if (options.allowedCommands && !isAllowed(executable, options.allowedCommands)) {
    return Promise.reject(
      new UnrecoverableError(
        `Command ${JSON.stringify(executable)} is not allowed (allowedCommands: ${options.allowedCommands.join(', ')})`,
      ),
    );
  }
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    // Its own process group (detached), so a timeout can stop everything it started.
    const child = spawn(
      action.shell ? [action.command, ...action.args].join(' ') : action.command,
      action.shell ? [] : action.args,
      {
        cwd: action.cwd ?? undefined,
        env: { ...process.env, ...action.env },
        shell: action.shell ? '/bin/sh' : false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (chunk: Buffer) => output.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.write(chunk));
    let killTimer: NodeJS.Timeout | null = null;
    const stop = () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 5000);
      killTimer.unref();
    };
    signal.addEventListener('abort', stop, { once: true });
    child.once('error', (error) => {
      signal.removeEventListener('abort', stop);
      reject(error);
    });
    child.once('close', (code, killedBy) => {
      signal.removeEventListener('abort', stop);
      if (killTimer) clearTimeout(killTimer);
      // Whatever it left running in its group goes too.
      killGroup(child.pid, 'SIGKILL');
      if (code === 0) resolve({ exitCode: 0 });
      else if (signal.aborted) reject(signal.reason);
      else
        reject(
          new Error(killedBy ? `Command was killed by ${killedBy}` : `Command exited with code ${code}`),
        );
    });
  });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function isAllowed(executable: string, allowed: readonly string[]): boolean {
  return (
    allowed.includes(executable) || (!executable.includes('/') && allowed.includes(basename(executable)))
  );
}
