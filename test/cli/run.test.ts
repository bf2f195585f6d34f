import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describe('sundial run and sundial test', () => {
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
    writeFileSync(
      join(dir.path, 'sundial.config.mjs'),
      `export default {
  store: { path: ${JSON.stringify(join(dir.path, 'app.db'))} },
  // A whole minute of grace, so the test may start anywhere in the minute and still be on time.
  scheduler: { misfireGraceMs: 60_000 },
  schedule(schedule) {
    schedule.call(({ log }) => log('minute work done')).name('minutely').everyMinute().tags(['ops']);
    schedule.command(process.execPath, ['-e', 'console.error("no space left"); process.exit(2)']).name('broken').yearly().tags(['fragile']);
    schedule.call(({ log }) => log('ran by hand')).name('manual').yearly();
    schedule.call(({ log }) => log('fast')).name('fast').everyFiveSeconds().tags(['fast']);
  },
};
`,
    );
  });
  afterEach(() => dir.cleanup());

  const sundial = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args], {
      cwd: dir.path,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  it('fires and runs what is due this minute, once per occurrence across runs', async () => {
    const first = sundial('run', '--tag', 'ops');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('completed minutely\nminute work done');
    sundial('run', '--tag', 'ops'); // the same minute: nothing new is due (or, past the minute's end, the next one)
    const app = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      const runs = await app.queue('sundial.tasks').listJobs(undefined, { limit: 10 });
      const occurrences = runs.map((job) => job.origin!.scheduledFor);
      expect(new Set(occurrences).size).toBe(occurrences.length);
      expect(runs.every((job) => job.origin!.schedule === 'minutely')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('runs each sub-minute occurrence of the minute once, each started before the next is due', async () => {
    const began = Date.now();
    const run = sundial('run', '--tag', 'fast');
    expect(run.code).toBe(0);
    const app = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      const runs = (await app.queue('sundial.tasks').listJobs(undefined, { limit: 100 })).filter(
        (job) => job.origin?.schedule === 'fast',
      );
      const due = runs.map((job) => job.origin!.scheduledFor).sort((a, b) => a - b);
      expect(runs.length).toBeGreaterThan(0);
      // Once the first run went, every later occurrence fired and ran (none skipped as an overlap
      // with a run left waiting for workers). Those missed before `run` started may be skipped.
      const firstStart = Math.min(...runs.map((job) => job.startedAt!));
      const later = due.filter((at) => at > firstStart);
      const expected: number[] = [];
      for (let at = firstStart - (firstStart % 5000) + 5000; at <= due.at(-1)!; at += 5000) expected.push(at);
      expect(later).toEqual(expected);
      // Up to the minute's last occurrence (or past it, when the run began at the very end of one).
      expect(due.at(-1)!).toBeGreaterThanOrEqual(began - (began % 60_000) + 55_000);
      for (const job of runs) {
        expect(job.state).toBe('completed');
        // Each started before the next occurrence was due (one that was already late when `run`
        // began is the exception).
        if (job.origin!.scheduledFor > firstStart)
          expect(job.startedAt!).toBeLessThan(job.origin!.scheduledFor + 5000);
      }
    } finally {
      await app.close();
    }
  });

  it('with test --force, runs a task beside a live run without touching its lock', async () => {
    const app = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      await app.init();
      const held = await app.locks.acquire('task:manual', { runId: 'a long manual run' });
      const blocked = sundial('test', 'manual');
      expect(blocked.stdout).toMatch(
        /^skipped {3}manual: the task's lock is held by a long manual run \(pid \d+ on /,
      );
      expect(sundial('test', 'manual', '--force')).toMatchObject({
        code: 0,
        stdout: 'completed manual\nran by hand',
      });
      // The live holder still holds its lock, under the same fencing token.
      expect(held!.signal.aborted).toBe(false);
      expect((await app.locks.list()).map((lock) => [lock.name, lock.token])).toEqual([
        ['task:manual', held!.token],
      ]);
      await held!.release();
    } finally {
      await app.close();
    }
  });

  it('runs every task with a tag now with --force, and exits 1 when one fails', () => {
    const ok = sundial('run', '--force', '--tag', 'ops');
    expect(ok).toMatchObject({ code: 0, stdout: 'completed minutely\nminute work done' });
    const failing = sundial('run', '--force', '--tag', 'fragile');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('dead      broken: Command exited with code 2');
    expect(failing.stdout).toContain('no space left');
  });

  it('runs one task now with test, printing its output', () => {
    expect(sundial('test', 'manual')).toMatchObject({ code: 0, stdout: 'completed manual\nran by hand' });
    const unknown = sundial('test', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No task "nope"');
  });
});
