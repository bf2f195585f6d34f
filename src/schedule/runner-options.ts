import { isAbsolute } from 'node:path';
import { checkMaskKey, InvalidOptionError } from '../core/index.ts';
import { CONTAINMENT_MODES, type ContainmentMode } from './containment.ts';

/** Every option a task worker takes beyond a worker's (see `sundial.taskWorker`). */
export const TASK_RUNNER_OPTION_KEYS = [
  'allowedCommands',
  'killGraceMs',
  'pingTimeoutMs',
  'hookTimeoutMs',
  'maxOutputBytes',
  'secretKeys',
  'locks',
  'lockTtlMs',
  'containment',
  'onWarning',
  'taskQueue',
] as const;

/** The longest delay a Node timer keeps (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Refuses a task runner option of the wrong shape when the task worker is made (or the config
 * loaded), naming it under `prefix` (`options`, `taskRunner`): otherwise it would fail every
 * run later with an error that says nothing of the option (`allowed.join is not a function`).
 * Options it does not know are left to the worker's own check.
 */
export function checkTaskRunnerOptions(options: Record<string, unknown>, prefix: string): void {
  const field = (name: string) => `${prefix}.${name}`;
  const { allowedCommands, secretKeys, locks, containment, onWarning } = options;
  if (allowedCommands !== undefined) {
    if (!Array.isArray(allowedCommands)) {
      throw new InvalidOptionError(
        field('allowedCommands'),
        allowedCommands,
        "an array of executables, like ['pg_dump', '/usr/local/bin/backup']",
      );
    }
    allowedCommands.forEach((entry: unknown, index) => {
      const problem = allowlistEntryProblem(entry);
      if (problem) throw new InvalidOptionError(field(`allowedCommands[${index}]`), entry, problem);
    });
  }
  wholeNumber(options, field, 'killGraceMs', 0, MAX_TIMER_MS);
  wholeNumber(options, field, 'maxOutputBytes', 1, 1024 ** 3);
  wholeNumber(options, field, 'lockTtlMs', 30, MAX_TIMER_MS);
  wholeNumber(options, field, 'pingTimeoutMs', 1, MAX_TIMER_MS);
  wholeNumber(options, field, 'hookTimeoutMs', 1, MAX_TIMER_MS);
  if (secretKeys !== undefined) {
    if (!Array.isArray(secretKeys)) {
      throw new InvalidOptionError(
        field('secretKeys'),
        secretKeys,
        "an array of key names, like ['stripe_key']",
      );
    }
    for (const [index, key] of (secretKeys as unknown[]).entries())
      checkMaskKey(key, field(`secretKeys[${index}]`));
  }
  if (containment !== undefined && !CONTAINMENT_MODES.includes(containment as ContainmentMode)) {
    throw new InvalidOptionError(field('containment'), containment, "'auto', 'namespace' or 'process-group'");
  }
  if (onWarning !== undefined && typeof onWarning !== 'function') {
    throw new InvalidOptionError(field('onWarning'), onWarning, 'a function (warning) => void');
  }
  if (
    locks !== undefined &&
    (typeof (locks as { acquire?: unknown } | null)?.acquire !== 'function' ||
      typeof (locks as { list?: unknown }).list !== 'function')
  ) {
    throw new InvalidOptionError(field('locks'), locks, 'a LockProvider (sundial.locks)');
  }
}

/** What is wrong with one allowlist entry, or null when it is an executable name or absolute path. */
function allowlistEntryProblem(entry: unknown): string | null {
  if (typeof entry !== 'string' || entry.trim() === '') return 'an executable name or absolute path';
  // The runner compares the executable with each entry as a whole: "pg_dump -Fc" matches nothing.
  if (/[\s\0]/.test(entry)) {
    return 'one executable, without arguments or spaces (the runner compares the whole executable)';
  }
  // A relative path is resolved against the task's own cwd, which the task chooses.
  if (entry.includes('/') && !isAbsolute(entry)) {
    return 'a bare name (found on PATH) or an absolute path; a relative path would follow the task’s cwd';
  }
  return null;
}

function wholeNumber(
  options: Record<string, unknown>,
  field: (name: string) => string,
  name: string,
  min: number,
  max: number,
): void {
  const value = options[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(field(name), value, `a whole number from ${min} to ${max}`);
  }
}
