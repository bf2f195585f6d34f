import { checkName, InvalidOptionError } from '../core/index.ts';

export interface SchedulerOptions {
  /** Where `call`, `command` and `ping` tasks' runs are queued. Default `sundial.tasks`. */
  taskQueue?: string;
  /**
   * How late an occurrence may be noticed and still run as on time. Older ones were missed
   * (the scheduler was down) and follow the task's misfire policy. Default 10 s.
   */
  misfireGraceMs?: number;
  /** Matched against tasks' `environments([...])`. Default `SUNDIAL_ENV`, `NODE_ENV`, or `production`. */
  environment?: string;
  /** Longest sleep without looking at the store (a backstop; changes wake it at once). Default 60 s. */
  maxSleepMs?: number;
  /** How long a `when`/`skip` check may take; a slower one counts as failed (skipped). Default 30 s. */
  checkTimeoutMs?: number;
  /** Start at once. Default true. */
  autostart?: boolean;
}

const SCHEDULER_OPTION_KEYS = [
  'taskQueue',
  'misfireGraceMs',
  'environment',
  'maxSleepMs',
  'checkTimeoutMs',
  'autostart',
];

/** Refuses unknown keys and bad values, naming the field and the value. */
export function checkSchedulerOptions(options: SchedulerOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('scheduler options', options, 'an object');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const bad = (expected: string) => new InvalidOptionError(`scheduler.${key}`, value, expected);
    switch (key) {
      case 'taskQueue':
        checkName(`scheduler.${key}`, value);
        break;
      case 'misfireGraceMs':
        if (!Number.isInteger(value) || value < 0) throw bad('a whole number of milliseconds, 0 or more');
        break;
      case 'maxSleepMs':
      case 'checkTimeoutMs':
        // Timers take at most 2^31 - 1 ms; Node fires a longer one at once.
        if (!Number.isInteger(value) || value < 1 || value > 2_147_483_647)
          throw bad('a whole number of milliseconds from 1 to 2147483647 (about 24.8 days)');
        break;
      case 'environment':
        if (typeof value !== 'string' || value === '') throw bad('an environment name');
        break;
      case 'autostart':
        if (typeof value !== 'boolean') throw bad('true or false');
        break;
      default:
        throw bad(`not a scheduler option; known: ${SCHEDULER_OPTION_KEYS.join(', ')}`);
    }
  }
}
