import { cronTextProblem, type ScheduleSpec, type TimeWindow } from './cron-schedule.ts';
import { checkTimeZone, parseClockTime } from './time-zone.ts';

/** A problem found while a task was being defined, reported once its name is known. */
export interface DefinitionProblem {
  field: string;
  value: unknown;
  expected: string;
  /** Set for time zones and expressions, which are cron errors. */
  cron?: boolean;
}

// Seconds, minutes, hours, day of month, month, day of week.
type Fields = [string, string, string, string, string, string];

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

/**
 * The fluent frequency methods (Laravel's complete set), each setting some fields of a cron
 * expression, so they combine: `everyFiveMinutes().weekdays().between('08:00', '17:00')`.
 * A bad argument does not throw here, where the task may not have its name yet: it is recorded
 * and reported, with the task's name, when the schedule is loaded.
 */
export class FrequencyBuilder {
  private fields: Fields = ['0', '*', '*', '*', '*', '*'];
  private zone: string | null = null;
  private readonly windows: TimeWindow[] = [];
  protected readonly problems: DefinitionProblem[] = [];

  /** A cron expression: 5 fields, 6 with seconds first, or @yearly/@monthly/@weekly/@daily/@hourly. */
  cron(expression: string): this {
    if (typeof expression !== 'string' || expression.trim() === '') {
      return this.problem('cron', expression, 'a cron expression like "*/5 * * * *" or "@daily"', true);
    }
    // Checked as written: the fields are rebuilt below, which would turn a pasted non-breaking
    // space into a plain one.
    const refusal = cronTextProblem(expression);
    if (refusal) return this.problem('cron', expression, refusal, true);
    const text = NICKNAMES[expression.trim().toLowerCase()] ?? expression.trim();
    const parts = text.split(/\s+/);
    if (parts.length === 5) this.fields = ['0', ...parts] as Fields;
    else if (parts.length === 6) this.fields = parts as Fields;
    else
      return this.problem(
        'cron',
        expression,
        'a cron expression of 5 or 6 fields, or a nickname like @daily',
        true,
      );
    return this;
  }

  // Sub-minute.
  everySecond(): this {
    return this.seconds(1);
  }
  everyTwoSeconds(): this {
    return this.seconds(2);
  }
  everyFiveSeconds(): this {
    return this.seconds(5);
  }
  everyTenSeconds(): this {
    return this.seconds(10);
  }
  everyFifteenSeconds(): this {
    return this.seconds(15);
  }
  everyTwentySeconds(): this {
    return this.seconds(20);
  }
  everyThirtySeconds(): this {
    return this.seconds(30);
  }

  // Minutes.
  everyMinute(): this {
    return this.minutes(1);
  }
  everyTwoMinutes(): this {
    return this.minutes(2);
  }
  everyThreeMinutes(): this {
    return this.minutes(3);
  }
  everyFourMinutes(): this {
    return this.minutes(4);
  }
  everyFiveMinutes(): this {
    return this.minutes(5);
  }
  everyTenMinutes(): this {
    return this.minutes(10);
  }
  everyFifteenMinutes(): this {
    return this.minutes(15);
  }
  everyThirtyMinutes(): this {
    return this.minutes(30);
  }

  // Hours.
  hourly(): this {
    return this.set({ second: '0', minute: '0', hour: '*' });
  }
  /** At these minutes past every hour. */
  hourlyAt(...minutes: number[]): this {
    const list = this.numbers('hourlyAt', minutes.flat(), 0, 59);
    return list ? this.set({ second: '0', minute: list, hour: '*' }) : this;
  }
  everyOddHour(minute = 0): this {
    return this.hours('everyOddHour', '1-23/2', minute);
  }
  everyTwoHours(minute = 0): this {
    return this.hours('everyTwoHours', '*/2', minute);
  }
  everyThreeHours(minute = 0): this {
    return this.hours('everyThreeHours', '*/3', minute);
  }
  everyFourHours(minute = 0): this {
    return this.hours('everyFourHours', '*/4', minute);
  }
  everySixHours(minute = 0): this {
    return this.hours('everySixHours', '*/6', minute);
  }

  // Days.
  daily(): this {
    return this.at('daily', '00:00');
  }
  /** Every day at `time` (HH:MM). */
  dailyAt(time: string): this {
    return this.at('dailyAt', time);
  }
  /** Every day at two hours, on the hour. */
  twiceDaily(first = 1, second = 13): this {
    return this.twiceDailyAt(first, second, 0);
  }
  twiceDailyAt(first = 1, second = 13, minute = 0): this {
    const hours = this.numbers('twiceDailyAt', [first, second], 0, 23);
    const minutes = this.numbers('twiceDailyAt.minute', [minute], 0, 59);
    return hours && minutes ? this.set({ second: '0', minute: minutes, hour: hours }) : this;
  }
  /** On these days of the month (1–31); combine with a time, e.g. `.dailyAt('09:00').daysOfMonth(1, 15)`. */
  daysOfMonth(...days: number[]): this {
    const list = this.numbers('daysOfMonth', days.flat(), 1, 31);
    return list ? this.set({ dayOfMonth: list }) : this;
  }

  // Weeks.
  weekly(): this {
    return this.weeklyOn(0, '00:00');
  }
  /** On a day of the week (0 = Sunday … 6 = Saturday) at `time`. */
  weeklyOn(day: number, time = '00:00'): this {
    const list = this.numbers('weeklyOn', [day], 0, 6);
    return list ? this.at('weeklyOn.time', time).set({ dayOfWeek: list }) : this;
  }
  weekdays(): this {
    return this.set({ dayOfWeek: '1-5' });
  }
  weekends(): this {
    return this.set({ dayOfWeek: '0,6' });
  }
  sundays(): this {
    return this.set({ dayOfWeek: '0' });
  }
  mondays(): this {
    return this.set({ dayOfWeek: '1' });
  }
  tuesdays(): this {
    return this.set({ dayOfWeek: '2' });
  }
  wednesdays(): this {
    return this.set({ dayOfWeek: '3' });
  }
  thursdays(): this {
    return this.set({ dayOfWeek: '4' });
  }
  fridays(): this {
    return this.set({ dayOfWeek: '5' });
  }
  saturdays(): this {
    return this.set({ dayOfWeek: '6' });
  }
  /** On these days of the week (0 = Sunday … 6 = Saturday). */
  days(...days: number[]): this {
    const list = this.numbers('days', days.flat(), 0, 6);
    return list ? this.set({ dayOfWeek: list }) : this;
  }

  // Months and longer.
  monthly(): this {
    return this.monthlyOn(1, '00:00');
  }
  monthlyOn(day = 1, time = '00:00'): this {
    const list = this.numbers('monthlyOn', [day], 1, 31);
    return list ? this.at('monthlyOn.time', time).set({ dayOfMonth: list }) : this;
  }
  twiceMonthly(first = 1, second = 16, time = '00:00'): this {
    const list = this.numbers('twiceMonthly', [first, second], 1, 31);
    return list ? this.at('twiceMonthly.time', time).set({ dayOfMonth: list }) : this;
  }
  lastDayOfMonth(time = '00:00'): this {
    return this.at('lastDayOfMonth', time).set({ dayOfMonth: 'L' });
  }
  quarterly(): this {
    return this.quarterlyOn(1, '00:00');
  }
  /** On a day of the first month of each quarter (January, April, July, October). */
  quarterlyOn(day = 1, time = '00:00'): this {
    const list = this.numbers('quarterlyOn', [day], 1, 31);
    return list ? this.at('quarterlyOn.time', time).set({ dayOfMonth: list, month: '1-12/3' }) : this;
  }
  yearly(): this {
    return this.yearlyOn(1, 1, '00:00');
  }
  yearlyOn(month = 1, day = 1, time = '00:00'): this {
    const months = this.numbers('yearlyOn.month', [month], 1, 12);
    const days = this.numbers('yearlyOn.day', [day], 1, 31);
    return months && days ? this.at('yearlyOn.time', time).set({ dayOfMonth: days, month: months }) : this;
  }

  // Windows and zone.
  /** Only run between these wall-clock times (inclusive; may span midnight, e.g. 22:00–06:00). */
  between(from: string, to: string): this {
    return this.window('between', from, to, false);
  }
  /** Never run between these wall-clock times (inclusive). */
  unlessBetween(from: string, to: string): this {
    return this.window('unlessBetween', from, to, true);
  }
  /** Read the schedule in this IANA zone (default: the process's zone). */
  timezone(zone: string): this {
    try {
      this.zone = checkTimeZone('timezone', zone);
    } catch {
      this.problem('timezone', zone, 'an IANA time zone like Europe/Rome', true);
    }
    return this;
  }

  /** The schedule these calls add up to. */
  protected scheduleSpec(): ScheduleSpec {
    const fields = this.fields[0] === '0' ? this.fields.slice(1) : this.fields;
    return { expression: fields.join(' '), timezone: this.zone, windows: [...this.windows] };
  }

  protected problem(field: string, value: unknown, expected: string, cron = false): this {
    this.problems.push({ field, value, expected, cron });
    return this;
  }

  private seconds(step: number): this {
    return this.set({ second: step === 1 ? '*' : `*/${step}`, minute: '*', hour: '*' });
  }

  private minutes(step: number): this {
    return this.set({ second: '0', minute: step === 1 ? '*' : `*/${step}`, hour: '*' });
  }

  private hours(field: string, hours: string, minute: number): this {
    const list = this.numbers(field, [minute], 0, 59);
    return list ? this.set({ second: '0', minute: list, hour: hours }) : this;
  }

  /** Sets the time of day from `HH:MM`. */
  private at(field: string, time: string): this {
    try {
      const minutes = parseClockTime(field, time);
      return this.set({ second: '0', minute: String(minutes % 60), hour: String(Math.floor(minutes / 60)) });
    } catch {
      return this.problem(field, time, 'a time of day like 08:00 or 17:30');
    }
  }

  private window(field: string, from: string, to: string, exclude: boolean): this {
    try {
      this.windows.push({
        from: parseClockTime(`${field}.from`, from),
        to: parseClockTime(`${field}.to`, to),
        exclude,
      });
    } catch {
      this.problem(field, [from, to], 'two times of day like "08:00", "17:00"');
    }
    return this;
  }

  /** Whole numbers in [min, max] as a cron list, or null after recording the problem. */
  private numbers(field: string, values: unknown[], min: number, max: number): string | null {
    const bad = values.find(
      (value) => !Number.isInteger(value) || (value as number) < min || (value as number) > max,
    );
    if (values.length === 0 || bad !== undefined) {
      this.problem(field, values.length === 1 ? values[0] : values, `whole numbers from ${min} to ${max}`);
      return null;
    }
    return [...new Set(values as number[])].sort((a, b) => a - b).join(',');
  }

  private set(parts: {
    second?: string;
    minute?: string;
    hour?: string;
    dayOfMonth?: string;
    month?: string;
    dayOfWeek?: string;
  }): this {
    const [second, minute, hour, dayOfMonth, month, dayOfWeek] = this.fields;
    this.fields = [
      parts.second ?? second,
      parts.minute ?? minute,
      parts.hour ?? hour,
      parts.dayOfMonth ?? dayOfMonth,
      parts.month ?? month,
      parts.dayOfWeek ?? dayOfWeek,
    ];
    return this;
  }
}
