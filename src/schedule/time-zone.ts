import { InvalidCronError } from '../core/index.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws unless `zone` is an IANA time zone this runtime knows (croner itself accepts anything). */
export function checkTimeZone(field: string, zone: unknown): string {
  if (typeof zone !== 'string' || zone === '')
    throw new InvalidCronError(field, zone, 'an IANA time zone like Europe/Rome');
  try {
    formatter(zone);
  } catch {
    throw new InvalidCronError(
      field,
      zone,
      'not a time zone this runtime knows; use an IANA name like Europe/Rome',
    );
  }
  return zone;
}

/** Minutes since local midnight of `time` in `zone` (null: the process's own zone). */
export function localMinuteOfDay(time: number, zone: string | null): number {
  const parts = formatter(zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone).formatToParts(time);
  let hour = 0;
  let minute = 0;
  for (const part of parts) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, format);
  }
  return format;
}

/** Reads `HH:MM` (or `H:MM`, or `HH`) as minutes since midnight; throws naming the field. */
export function parseClockTime(field: string, value: unknown): number {
  const match = typeof value === 'string' ? /^([01]?\d|2[0-3])(?::([0-5]\d))?$/.exec(value.trim()) : null;
  if (!match) throw new InvalidCronError(field, value, 'a time of day like 08:00 or 17:30');
  return Number(match[1]) * 60 + Number(match[2] ?? 0);
}

export function formatClockTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
