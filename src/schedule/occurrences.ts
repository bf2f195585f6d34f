import type { LoadedTask } from './schedule.ts';

/** Most occurrences of one task fired in one tick (a catch-up over a long window comes in parts). */
const MAX_FIRES_PER_TICK = 1000;

/** What a tick does about one due task. */
export interface Plan {
  fire: { at: number; catchUp: boolean }[];
  missed: number[];
  next: number | null;
}

/**
 * Which occurrences from `expected` up to `now` to fire. Those at most `grace` ms late are on time
 * and all fire. Older ones were missed while no scheduler ran: `skip` drops them, `once` fires the
 * latest of them as a catch-up, `catchUp` fires every one within its window. Missed occurrences
 * are listed (for events) up to a cap, then jumped over; occurrences to fire beyond the cap (a
 * catch-up over a very long window) are left for the next tick, which plans from the next of them.
 */
export function planOccurrences(task: LoadedTask, expected: number, now: number, grace: number): Plan {
  const policy = task.definition.misfire;
  const horizon = now - (policy.policy === 'catchUp' ? Math.max(grace, policy.windowMs) : grace);
  const missed: number[] = [];
  let time: number | null = expected;
  while (time !== null && time < horizon && missed.length < MAX_FIRES_PER_TICK) {
    missed.push(time);
    time = task.cron.next(time);
  }
  if (time !== null && time < horizon) time = task.cron.next(horizon - 1); // too many to list: jump
  const fire: { at: number; catchUp: boolean }[] = [];
  while (time !== null && time <= now && fire.length < MAX_FIRES_PER_TICK) {
    fire.push({ at: time, catchUp: now - time > grace });
    time = task.cron.next(time);
  }
  if (policy.policy === 'once' && fire.length === 0 && missed.length > 0) {
    // The latest missed occurrence: the one just before the first that is still ahead.
    const latest = time === null ? missed.at(-1)! : (task.cron.previous(time) ?? missed.at(-1)!);
    fire.push({ at: latest, catchUp: true });
    const index = missed.indexOf(latest);
    if (index >= 0) missed.splice(index, 1);
  }
  return { fire, missed, next: time };
}
