import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { InvalidOptionError, SundialError } from '../core/index.ts';

/**
 * How a command task's processes are held together, so that stopping the run (timeout, interrupt,
 * shutdown) or losing its worker (SIGKILL, a crash) stops all of them:
 *
 * - `namespace`: the command runs in a PID namespace of its own, which the kernel empties (SIGKILL)
 *   as soon as its first process ends, so nothing it started can stay behind, not even a process
 *   that left its group with `setsid`. Its first process dies with the worker (a parent-death
 *   signal). Linux only, with util-linux's `unshare` and `setpriv`, as root or where unprivileged
 *   user namespaces are allowed.
 * - `process-group`: the command's process group is signalled. A process that leaves the group
 *   escapes it, and a worker killed with SIGKILL leaves its commands running.
 * - `auto` (default): `namespace` where the host allows it, else `process-group` with a warning.
 */
export type ContainmentMode = 'auto' | 'namespace' | 'process-group';

/** What a task worker contains its commands with, as decided from its mode and the host. */
export type Containment =
  | {
      kind: 'namespace';
      /** Whether the namespace needs a user namespace of its own (not root). */
      via: 'root' | 'user namespace';
      /** The argv the command's own argv is appended to. */
      wrapper: readonly string[];
    }
  | { kind: 'process-group'; reason: string };

export const CONTAINMENT_MODES: readonly ContainmentMode[] = ['auto', 'namespace', 'process-group'];

/**
 * The namespace's first process: a shell that runs the command as its child and exits with its
 * status. The command must not be that first process: the kernel delivers to it only the signals it
 * has a handler for, so a plain command would never see the SIGTERM of a graceful stop. `exec`
 * makes sure the command is looked up as a program, never as a builtin of this shell.
 */
const INIT_SCRIPT = '(exec "$@"); exit $?';

let probed: Containment | null = null;

/**
 * What this host allows, probed once per process (a few milliseconds, by running the wrapper for
 * real) and then remembered: a PID namespace, or only a process group and why.
 */
export function detectContainment(): Containment {
  probed ??= probe();
  return probed;
}

/** The containment a task worker with `mode` uses; 'namespace' where the host cannot is refused. */
export function containmentFor(mode: ContainmentMode, field = 'containment'): Containment {
  if (!CONTAINMENT_MODES.includes(mode)) {
    throw new InvalidOptionError(field, mode, "'auto', 'namespace' or 'process-group'");
  }
  if (mode === 'process-group') {
    return { kind: 'process-group', reason: "containment: 'process-group' was chosen" };
  }
  const found = detectContainment();
  if (mode === 'namespace' && found.kind !== 'namespace') {
    throw new InvalidOptionError(
      field,
      mode,
      `PID namespaces are not available on this host: ${found.reason}`,
      'SUNDIAL_CONTAINMENT_UNAVAILABLE',
    );
  }
  return found;
}

/**
 * The warning a task worker that runs commands gives once, when `auto` found only a process group
 * to hold them; none when that was chosen (a choice is not news, and under a crontab it would be
 * repeated every minute).
 */
export function containmentWarning(mode: ContainmentMode, containment: Containment): SundialError | null {
  if (mode !== 'auto' || containment.kind !== 'process-group') return null;
  return new SundialError(
    'SUNDIAL_PROCESS_GROUP_ONLY',
    `Command tasks are contained by their process group only (${containment.reason}): a process ` +
      'that leaves the group (setsid) outlives a timeout or interrupt, and commands outlive a worker ' +
      'killed with SIGKILL. On Linux, install util-linux 2.38 or newer (unshare, setpriv) and run as ' +
      'root or allow unprivileged user namespaces for PID-namespace containment; or choose ' +
      "containment: 'process-group' to say this is meant.",
  );
}

/** The argv to spawn for a command's own `argv`. */
export function containedArgv(containment: Containment, argv: readonly string[]): string[] {
  return containment.kind === 'namespace' ? [...containment.wrapper, ...argv] : [...argv];
}

/**
 * How the command itself ended. In a namespace the worker sees the init shell's status, in which a
 * command killed by signal N shows as 128 + N (the shell's own convention, and the reason a shell
 * script's exit code above 128 reads the same way).
 */
export function commandOutcome(
  containment: Containment,
  code: number | null,
  signal: NodeJS.Signals | null,
): { code: number | null; signal: NodeJS.Signals | null } {
  if (containment.kind !== 'namespace' || code === null || code <= 128) return { code, signal };
  const name = Object.entries(osConstants.signals).find(([, number]) => number === code - 128)?.[0];
  return name ? { code: null, signal: name as NodeJS.Signals } : { code, signal };
}

function probe(): Containment {
  if (process.platform !== 'linux') {
    return { kind: 'process-group', reason: `PID namespaces are Linux's, and this is ${process.platform}` };
  }
  const setpriv = findExecutable('setpriv');
  const unshare = findExecutable('unshare');
  if (!setpriv || !unshare) {
    return { kind: 'process-group', reason: 'setpriv and unshare (util-linux) were not found' };
  }
  // Root can make a PID namespace outright; anyone else needs a user namespace around it, one that
  // keeps their own uid (--map-current-user, util-linux 2.38). Not --map-root-user, which older
  // util-linux offers: commands would run as uid 0 in it, and some refuse to or act differently.
  const attempts: { via: 'root' | 'user namespace'; flags: string[] }[] = [
    ...(process.geteuid?.() === 0 ? [{ via: 'root' as const, flags: [] }] : []),
    { via: 'user namespace', flags: ['--user', '--map-current-user'] },
  ];
  const failures: string[] = [];
  for (const { via, flags } of attempts) {
    const wrapper = [
      setpriv,
      // The namespace's keeper dies with the worker, even a worker killed with SIGKILL (strictly,
      // with the thread that spawned it: Node's JS thread, which lives as long as the worker)...
      '--pdeathsig',
      'KILL',
      '--',
      unshare,
      ...flags,
      '--pid',
      '--fork',
      // ...and takes the namespace's first process, and so the whole namespace, with it.
      '--kill-child',
      '--',
      '/bin/sh',
      '-c',
      INIT_SCRIPT,
      'sundial-init',
    ];
    // A real run, which must hand an exit code through every layer.
    const result = spawnSync(wrapper[0]!, [...wrapper.slice(1), '/bin/sh', '-c', 'exit 7'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
    });
    if (result.status === 7) return { kind: 'namespace', via, wrapper };
    failures.push(
      `unshare ${flags.join(' ') || 'as root'}: ${result.error?.message ?? (result.stderr.trim() || `status ${result.status}`)}`,
    );
  }
  return { kind: 'process-group', reason: `no PID namespace could be made (${failures.join('; ')})` };
}

/** An executable's absolute path, so a task's own PATH can never choose which wrapper runs. */
function findExecutable(name: string): string | null {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const folder of folders) {
    if (!folder.startsWith('/')) continue;
    const path = join(folder, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not here.
    }
  }
  return null;
}
