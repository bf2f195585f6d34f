import { describe, expect, it } from 'vitest';
import { sleep } from '../helpers.ts';
import { enginesUnderTest, startScheduler, useSharedStore } from './children.ts';

describe.each(await enginesUnderTest())('schedulers in real processes (%s)', (engine) => {
  const shared = useSharedStore(engine);

  it('three scheduler processes on one store fire a one-second task once per occurrence for 10 s', async () => {
    const schedulers = [0, 1, 2].map(() => startScheduler(shared.env));
    await Promise.all(schedulers.map((s) => s.ready));
    await sleep(10_000);
    for (const s of schedulers) s.process.kill('SIGTERM');
    expect((await Promise.all(schedulers.map((s) => s.exited))).map((e) => e.code)).toEqual([0, 0, 0]);

    const jobs = await shared.sundial.queue('ticks').listJobs(undefined, { limit: 1000 });
    const times = jobs.map((job) => job.origin!.scheduledFor).sort((a, b) => a - b);
    // None doubled.
    expect(new Set(times).size).toBe(times.length);
    // None missing: every second from the first fire to the last.
    expect(times.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    expect(jobs.every((job) => job.origin!.catchUp === false)).toBe(true);
  });
});
