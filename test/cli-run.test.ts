import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../src/index.ts';
import { tempDir } from './helpers.ts';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

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
    const first = sundial('run');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('completed minutely\nminute work done');
    sundial('run'); // the same minute: nothing new is due (or, past the minute's end, the next one)
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
