import { describe, expect, it } from 'vitest';
import { type LoadedTask, Schedule, type TaskBuilder } from '../../src/index.ts';

function load(zone: string, define: (builder: TaskBuilder) => TaskBuilder): LoadedTask {
  const schedule = new Schedule();
  define(schedule
    .call(() => {})
    .name('t')
    .timezone(zone));
  return schedule.load()[0]!;
}

const utc = (text: string) => Date.parse(text);
const iso = (times: number[]) => times.map((time) => new Date(time).toISOString().replace('.000', ''));

/**
 * The rule (documented in README "Scheduled tasks and DST"): a wall-clock time that falls in a
 * spring-forward gap runs once, at the first valid instant after the gap; a wall-clock time that
 * occurs twice at fall-back runs once, at its first occurrence. Interval schedules keep real-time
 * spacing. Expected instants below are worked out from each zone's 2026 rules.
 */
describe('daylight saving time', () => {
  describe('America/New_York (02:00 EST -> 03:00 EDT on 8 March; 02:00 EDT -> 01:00 EST on 1 November)', () => {
    it('runs a time inside the spring-forward gap once, at 03:00 EDT', () => {
      const task = load('America/New_York', (t) => t.dailyAt('02:30'));
      expect(iso(task.cron.upcoming(3, utc('2026-03-07T00:00:00Z')))).toEqual([
        '2026-03-07T07:30:00Z', // 02:30 EST
        '2026-03-08T07:00:00Z', // 02:30 does not exist: 03:00 EDT
        '2026-03-09T06:30:00Z', // 02:30 EDT
      ]);
    });

    it('runs a time inside the fall-back overlap once, at its first occurrence', () => {
      const task = load('America/New_York', (t) => t.dailyAt('01:30'));
      expect(iso(task.cron.upcoming(3, utc('2026-10-31T00:00:00Z')))).toEqual([
        '2026-10-31T05:30:00Z', // 01:30 EDT
        '2026-11-01T05:30:00Z', // 01:30 EDT, first of the two; not again at 06:30Z (01:30 EST)
        '2026-11-02T06:30:00Z', // 01:30 EST
      ]);
    });

    it('keeps an interval schedule in real time through the repeated hour', () => {
      const task = load('America/New_York', (t) => t.everyThirtyMinutes());
      expect(iso(task.cron.upcoming(5, utc('2026-11-01T04:50:00Z')))).toEqual([
        '2026-11-01T05:00:00Z', // 01:00 EDT
        '2026-11-01T05:30:00Z', // 01:30 EDT
        '2026-11-01T06:00:00Z', // 01:00 EST
        '2026-11-01T06:30:00Z', // 01:30 EST
        '2026-11-01T07:00:00Z', // 02:00 EST
      ]);
    });

    it('honours a window in the second copy of the repeated hour', () => {
      const task = load('America/New_York', (t) => t.everyFiveMinutes().unlessBetween('01:00', '01:20'));
      // 01:02 EST, in the second 01:00-02:00 of 1 November: blocked until 01:25 EST the same night.
      expect(iso(task.cron.upcoming(2, utc('2026-11-01T06:02:00Z')))).toEqual([
        '2026-11-01T06:25:00Z',
        '2026-11-01T06:30:00Z',
      ]);
    });

    it('keeps an hourly schedule hourly across the gap', () => {
      const task = load('America/New_York', (t) => t.hourly());
      expect(iso(task.cron.upcoming(3, utc('2026-03-08T05:30:00Z')))).toEqual([
        '2026-03-08T06:00:00Z', // 01:00 EST
        '2026-03-08T07:00:00Z', // 03:00 EDT (02:00 never happened)
        '2026-03-08T08:00:00Z', // 04:00 EDT
      ]);
    });
  });

  describe('Europe/Rome (02:00 CET -> 03:00 CEST on 29 March; 03:00 CEST -> 02:00 CET on 25 October)', () => {
    it('runs a time inside the spring-forward gap once, at 03:00 CEST', () => {
      const task = load('Europe/Rome', (t) => t.dailyAt('02:15'));
      expect(iso(task.cron.upcoming(3, utc('2026-03-28T00:00:00Z')))).toEqual([
        '2026-03-28T01:15:00Z', // 02:15 CET
        '2026-03-29T01:00:00Z', // 03:00 CEST
        '2026-03-30T00:15:00Z', // 02:15 CEST
      ]);
    });

    it('runs a time inside the fall-back overlap once, at its first occurrence', () => {
      const task = load('Europe/Rome', (t) => t.dailyAt('02:30'));
      expect(iso(task.cron.upcoming(3, utc('2026-10-24T00:00:00Z')))).toEqual([
        '2026-10-24T00:30:00Z', // 02:30 CEST
        '2026-10-25T00:30:00Z', // 02:30 CEST, first of the two; not again at 01:30Z (02:30 CET)
        '2026-10-26T01:30:00Z', // 02:30 CET
      ]);
    });

    it('treats twiceDaily hours as fixed times too', () => {
      const task = load('Europe/Rome', (t) => t.twiceDaily(2, 14));
      expect(iso(task.cron.upcoming(3, utc('2026-03-28T20:00:00Z')))).toEqual([
        '2026-03-29T01:00:00Z', // 02:00 does not exist: 03:00 CEST
        '2026-03-29T12:00:00Z', // 14:00 CEST
        '2026-03-30T00:00:00Z', // 02:00 CEST
      ]);
    });
  });

  describe('Australia/Lord_Howe (half-hour shifts: 02:00 -> 02:30 on 4 October; 02:00 -> 01:30 on 5 April)', () => {
    it('runs a time inside the half-hour gap once, at 02:30', () => {
      const task = load('Australia/Lord_Howe', (t) => t.dailyAt('02:10'));
      expect(iso(task.cron.upcoming(3, utc('2026-10-02T00:00:00Z')))).toEqual([
        '2026-10-02T15:40:00Z', // 3 Oct 02:10 +10:30
        '2026-10-03T15:30:00Z', // 4 Oct: 02:10 does not exist, 02:30 +11
        '2026-10-04T15:10:00Z', // 5 Oct 02:10 +11
      ]);
    });

    it('runs a time inside the half-hour overlap once, at its first occurrence', () => {
      const task = load('Australia/Lord_Howe', (t) => t.dailyAt('01:45'));
      expect(iso(task.cron.upcoming(3, utc('2026-04-03T00:00:00Z')))).toEqual([
        '2026-04-03T14:45:00Z', // 4 Apr 01:45 +11
        '2026-04-04T14:45:00Z', // 5 Apr 01:45 +11, first of the two; not again at 15:15Z (+10:30)
        '2026-04-05T15:15:00Z', // 6 Apr 01:45 +10:30
      ]);
    });
  });
});
