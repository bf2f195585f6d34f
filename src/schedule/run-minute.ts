import type { Clock } from '../core/index.ts';
import type { LoadedTask } from './schedule.ts';
import type { Scheduler } from './scheduler.ts';

/**
 * How far into the next minute a one-shot run keeps firing: cron (Debian's, Vixie's) starts a
 * minute's job about a second after the minute, and the next run needs a moment to start.
 */
export const RUN_HANDOVER_MS = 3000;

/**
 * What `sundial run` does once a minute from a system crontab: fires every occurrence of `tasks` due
 * in the current minute, each when it is due (sleeping in between), and returns when the minute is
 * over. Sub-minute tasks go on for the first seconds of the next minute, until the next minute's run
 * has started and takes over; two runs firing one occurrence fire it once (compare-and-set).
 * `makeScheduler` makes a scheduler that is not started, on the store to fire into.
 */
export async function fireThisMinute(
  makeScheduler: (tasks: readonly LoadedTask[]) => Scheduler,
  tasks: readonly LoadedTask[],
  clock: Clock,
): Promise<void> {
  const now = clock.now();
  const minuteStart = now - (now % 60_000);
  const minuteEnd = minuteStart + 60_000;
  const scheduler = makeScheduler(tasks);
  await scheduler.sync(minuteStart);
  await fireUntil(scheduler, minuteEnd, clock);
  const subMinute = tasks.filter((task) => task.cron.hasSeconds);
  if (subMinute.length === 0) return;
  const handover = makeScheduler(subMinute);
  await handover.sync(minuteEnd);
  await fireUntil(handover, minuteEnd + RUN_HANDOVER_MS, clock);
}

/** Fires what comes due, sleeping in between, until the next occurrence is at `until` or later. */
async function fireUntil(scheduler: Scheduler, until: number, clock: Clock): Promise<void> {
  for (;;) {
    await scheduler.tick();
    const next = scheduler.nextDueAt();
    if (next === null || next >= until) return;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - clock.now())));
  }
}
