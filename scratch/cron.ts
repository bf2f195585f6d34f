import { Cron } from 'croner';

for (const p of [
  '0 0 * * 5#L',
  '0 0 * * FRI#L',
  '0 0 * * 5-6#L',
  '0 0 * * 1-5#2',
  '0 12 1 * +MON',
  '0 0 * * 1#2,3#2',
]) {
  try {
    const c = new Cron(p, { paused: true, mode: '5-or-6-parts', timezone: 'UTC' });
    console.log(
      p,
      c
        .nextRuns(4, new Date('2026-01-01T00:00:00Z'))
        .map((d) => d.toISOString().slice(0, 10))
        .join(' '),
    );
  } catch (e) {
    console.log(p, 'ERR', (e as Error).message);
  }
}
