import { Cron } from 'croner';
import cronstrue from 'cronstrue';
import { InvalidCronError } from '../core/index.ts';
import { checkTimeZone, formatClockTime, localMinuteOfDay } from './time-zone.ts';

/** A daily window of wall-clock time, in minutes since midnight; `from > to` spans midnight. */
export interface TimeWindow {
  from: number;
  to: number;
  /** `between` windows (false) allow runs inside; `unlessBetween` windows (true) forbid them. */
  exclude: boolean;
}

/** When a task runs: a cron expression (5 or 6 fields, or a nickname), its zone and windows. */
export interface ScheduleSpec {
  expression: string;
  /** IANA zone the expression is read in; null: the process's own zone. */
  timezone: string | null;
  windows: TimeWindow[];
}

/** How many occurrences `next` looks at through windows before it says the schedule never runs. */
const MAX_WINDOW_HOPS = 20_000;

/**
 * The maths of a schedule: next occurrences in its time zone, honouring its windows.
 *
 * DST, by croner with `fixedTimeRule: 'no-wildcard'` (Vixie cron's rule): a job at fixed wall-clock
 * times (no `*` or step in seconds, minutes and hours, e.g. `30 2 * * *` or `0 1,13 * * *`) whose
 * time falls in a spring-forward gap runs once at the first valid instant after the gap, and a time
 * that occurs twice at fall-back runs once, at its first occurrence. Interval jobs (`*\/5 * * * *`)
 * follow real time: they skip the instants that do not exist and run in both copies of a repeated
 * hour, so they keep their spacing.
 */
export class CronSchedule {
  readonly spec: ScheduleSpec;
  private readonly cron: Cron;

  /** Throws `InvalidCronError` naming `field` for a bad expression or zone. */
  constructor(spec: ScheduleSpec, field = 'cron') {
    if (spec.timezone !== null) checkTimeZone(`${field}.timezone`, spec.timezone);
    checkCronText(field, spec.expression);
    this.spec = spec;
    try {
      this.cron = new Cron(spec.expression, {
        timezone: spec.timezone ?? undefined,
        fixedTimeRule: 'no-wildcard',
        mode: '5-or-6-parts',
        paused: true,
      });
    } catch (error) {
      const said = error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error);
      // croner's message may quote the expression: bounded like any echoed value.
      const reason = said.length > 200 ? `${said.slice(0, 197)}...` : said;
      throw new InvalidCronError(
        field,
        spec.expression,
        `${reason}; expected 5 or 6 fields or a nickname like @daily`,
      );
    }
  }

  /** Whether the expression has a seconds field (sub-minute schedules). */
  get hasSeconds(): boolean {
    return !this.spec.expression.startsWith('@') && this.spec.expression.trim().split(/\s+/).length === 6;
  }

  /** The first occurrence strictly after `after` (epoch ms) inside the windows, or null for never. */
  next(after: number): number | null {
    let from = after;
    for (let hop = 0; hop < MAX_WINDOW_HOPS; hop++) {
      const run = this.cron.nextRun(new Date(from));
      if (!run) return null;
      const time = run.getTime();
      const blocked = this.blockingWindow(time);
      if (!blocked) return time;
      // Jump towards where the window lets runs through again, instead of walking every occurrence:
      // an hour short of the wall-clock distance, since a DST shift moves wall time by at most an
      // hour, so the jump never passes a reopening (not even in the second copy of a repeated
      // hour); the occurrences of that last hour are walked.
      const reopen = blocked.exclude ? (blocked.to + 1) % 1440 : blocked.from;
      const distance = (reopen - localMinuteOfDay(time, this.spec.timezone) + 1440) % 1440 || 1440;
      from = time + Math.max(0, distance - 60) * 60_000;
    }
    return null;
  }

  /** The last occurrence strictly before `before` (windows not applied), or null. */
  previous(before: number): number | null {
    const [run] = this.cron.previousRuns(1, new Date(before));
    return run ? run.getTime() : null;
  }

  /** The next `count` occurrences after `after`. */
  upcoming(count: number, after: number): number[] {
    const times: number[] = [];
    let from = after;
    while (times.length < count) {
      const time = this.next(from);
      if (time === null) break;
      times.push(time);
      from = time;
    }
    return times;
  }

  /** Human words: "every 5 minutes, Monday to Friday, 08:00–17:00 (Europe/Rome)". */
  describe(): string {
    let text: string;
    try {
      text = cronstrue.toString(this.spec.expression, { use24HourTimeFormat: true, verbose: false });
      text = text.charAt(0).toLowerCase() + text.slice(1);
      text = text.replace(' through ', ' to ');
    } catch {
      text = this.spec.expression;
    }
    for (const window of this.spec.windows) {
      const span = `${formatClockTime(window.from)}–${formatClockTime(window.to)}`;
      text += window.exclude ? `, except ${span}` : `, ${span}`;
    }
    return this.spec.timezone ? `${text} (${this.spec.timezone})` : text;
  }

  private blockingWindow(time: number): TimeWindow | null {
    if (this.spec.windows.length === 0) return null;
    const minute = localMinuteOfDay(time, this.spec.timezone);
    for (const window of this.spec.windows) {
      if (inWindow(minute, window) === window.exclude) return window;
    }
    return null;
  }
}

/** Longest expression taken: a real one is a few dozen characters. */
const MAX_EXPRESSION_LENGTH = 256;

/**
 * What croner would read loosely, refused before it does: fields separated by anything but ASCII
 * spaces and tabs (a non-breaking space, a line or paragraph separator pasted from a document),
 * characters no cron field uses, and `#` (the nth weekday of the month) on anything but one
 * weekday: croner reads `1-5#2` as every weekday.
 */
function checkCronText(field: string, expression: unknown): void {
  if (typeof expression !== 'string') {
    throw new InvalidCronError(field, expression, 'a cron expression as a string, like "*/5 * * * *"');
  }
  const problem = cronTextProblem(expression);
  if (problem) throw new InvalidCronError(field, expression, problem);
}

/** What is wrong with the text of an expression before croner reads it, or null (see above). */
export function cronTextProblem(expression: string): string | null {
  if (expression.length > MAX_EXPRESSION_LENGTH) return `at most ${MAX_EXPRESSION_LENGTH} characters`;
  const stray = /[^0-9A-Za-z*/,?#@+ \t-]/.exec(expression);
  if (stray) {
    const code = stray[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `U+${code} at position ${stray.index + 1} is not part of a cron expression; separate fields with plain spaces`;
  }
  const fields = expression.trim().split(/[ \t]+/);
  const weekdayAt = fields.length === 5 ? 4 : fields.length === 6 ? 5 : -1;
  // croner's `+` (day of month AND day of week) leads the weekday field, and nothing else.
  if (fields.some((field, at) => field.includes('+') && !(at === weekdayAt && /^\+[^+]+$/.test(field)))) {
    return '+ may only lead the day-of-week field (both days must match), like "0 12 1 * +MON"';
  }
  const weekday = fields[weekdayAt]?.replace(/^\+/, '');
  for (const item of weekday?.split(',') ?? []) {
    if (item.includes('#') && !NTH_WEEKDAY.test(item)) {
      return `${JSON.stringify(item)}: # takes one weekday and a week number from 1 to 5 or L, like 1#2 (the second Monday) or 5#L (the last Friday); a range only with L, like 5-6#L`;
    }
  }
  return null;
}

/** A weekday and its week in the month (1#2, FRI#L), or a range of weekdays' last ones (5-6#L). */
const DAY = '(?:[0-7]|[A-Za-z]{3})';
const NTH_WEEKDAY = new RegExp(`^(?:${DAY}#(?:[1-5]|L)|${DAY}-${DAY}#L)$`, 'i');

function inWindow(minute: number, window: TimeWindow): boolean {
  return window.from <= window.to
    ? minute >= window.from && minute <= window.to
    : minute >= window.from || minute <= window.to;
}
