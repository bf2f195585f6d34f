import { InvalidOptionError } from './errors.ts';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Reads `500`, `500ms`, `30s`, `15m`, `12h`, `7d` or `2w` as milliseconds. */
export function parseDuration(field: string, text: string | number): number {
  if (typeof text === 'number') {
    if (Number.isInteger(text) && text >= 0) return text;
    throw new InvalidOptionError(field, text, 'a whole number of milliseconds, 0 or more');
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!match) throw new InvalidOptionError(field, text, 'a duration like 500ms, 30s, 15m, 12h, 7d or 2w');
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}
