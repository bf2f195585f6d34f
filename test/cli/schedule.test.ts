import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir, waitFor } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describe('sundial CLI with a config file', () => {
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
    // TypeScript, loaded without a build: types and all.
    writeFileSync(
      join(dir.path, 'sundial.config.ts'),
      `
type Define = { call(fn: (ctx: { log: (...parts: unknown[]) => void }) => unknown): any; job(...args: unknown[]): any };
const seconds: number = 1;
export default {
  store: { path: ${JSON.stringify(join(dir.path, 'app.db'))} },
  schedule(schedule: Define) {
    schedule.call(({ log }) => log('tick')).name('heartbeat').everySecond().tags(['ops']);
    schedule.job('reports', 'build').name('nightly-report').dailyAt('02:30').timezone('Europe/Rome');
  },
  scheduler: { misfireGraceMs: seconds * 10_000 },
};
`,
    );
  });
  afterEach(() => dir.cleanup());

  const sundial = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir.path, encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  it('runs the scheduler and task worker with `work`, stops on SIGTERM, and lists, pauses and resumes tasks', async () => {
    const work = spawn(process.execPath, [CLI, 'work'], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    work.stdout.on('data', (chunk) => {
      log += chunk;
    });
    const app = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      await waitFor(
        () =>
          /completed heartbeat \(run \d+\) in \d+ ms/.test(log) &&
          (log.match(/fired\s+heartbeat/g) ?? []).length >= 2,
        {
          timeoutMs: 20_000,
          message: 'work to fire and run the heartbeat twice',
        },
      );
      work.kill('SIGTERM');
      const code = await new Promise((resolve) => work.once('exit', resolve));
      expect(code).toBe(0);
      const runs = await app.queue('sundial.tasks').listJobs('completed', { limit: 100 });
      expect(runs.length).toBeGreaterThanOrEqual(1);
      expect((runs[0]!.result as { output: string }).output).toBe('tick\n');
    } finally {
      work.kill('SIGKILL');
      await app.close();
    }

    const listed = sundial('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/heartbeat\s+every second\s+\* \* \* \* \* \*\s+local/);
    expect(listed.stdout).toMatch(
      /nightly-report\s+at 02:30 \(Europe\/Rome\)\s+30 2 \* \* \*\s+Europe\/Rome/,
    );
    expect(sundial('pause', 'nightly-report', '--note', 'quarter end').stdout).toBe(
      'task nightly-report paused',
    );
    const json = JSON.parse(sundial('list', '--json').stdout) as {
      id: string;
      paused: boolean;
      note: string | null;
    }[];
    expect(json.find((row) => row.id === 'nightly-report')).toMatchObject({
      paused: true,
      note: 'quarter end',
      lastStatus: null, // never fired
    });
    // The heartbeat ran under `work` above: its latest run is the newest job it fired.
    expect(json.find((row) => row.id === 'heartbeat')).toMatchObject({
      lastStatus: expect.stringMatching(/^(completed|waiting|active|cancelled)$/),
    });
    expect(sundial('list').stdout).toMatch(/LAST STATUS/);
    expect(sundial('list').stdout).toMatch(/paused: quarter end/);
    expect(sundial('resume', 'nightly-report').stdout).toBe('task nightly-report resumed');
    expect(sundial('down', '--note', 'moving the database').stdout).toBe(
      'maintenance mode on: tasks skip until `sundial up`',
    );
    expect(sundial('up').stdout).toBe('maintenance mode off');
    expect(sundial('locks').stdout).toBe('no locks held');
    expect(sundial('locks', '--silent').code).toBe(0);
    const holder = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      await holder.locks.acquire('task:heartbeat', { runId: 'a manual run' });
      expect(sundial('locks').stdout).toMatch(
        new RegExp(`task:heartbeat\\s+\\S+\\s+${process.pid}\\s+a manual run\\s+\\d+\\s`),
      );
      expect(sundial('locks', '--silent')).toMatchObject({ code: 1, stdout: '' });
      expect(sundial('clear-locks', 'heartbeat').stdout).toBe('cleared 1 lock');
      expect(sundial('locks').stdout).toBe('no locks held');
    } finally {
      await holder.close();
    }
    const missing = sundial('pause', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No task "nope" in the store');
  });

  it('refuses a bad task in the config with the task, field and value (sundial test --force too), and a missing config', () => {
    writeFileSync(
      join(dir.path, 'broken.config.mjs'),
      'export default { schedule: (s) => { s.command("backup").dailyAt("25:00"); } };\n',
    );
    const broken = sundial('--config', 'broken.config.mjs', 'list');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe(
      'sundial: Invalid tasks["backup"].dailyAt: "25:00" (a time of day like 08:00 or 17:30)',
    );
    writeFileSync(
      join(dir.path, 'preload.config.mjs'),
      `export default { taskRunner: { allowedCommands: ['touch'] }, schedule: (s) => {
        s.command('touch', [${JSON.stringify(join(dir.path, 'ran'))}], { env: { LD_PRELOAD: '/tmp/evil.so' } }).name('preload').daily();
      } };\n`,
    );
    const preloaded = sundial('--config', 'preload.config.mjs', 'test', 'preload', '--force');
    expect(preloaded.code).toBe(1);
    expect(preloaded.stderr).toMatch(
      /^sundial: Invalid tasks\["preload"\]\.command\.env\.LD_PRELOAD: "\/tmp\/evil\.so" \(refused in command tasks: /,
    );
    expect(existsSync(join(dir.path, 'ran'))).toBe(false);
    const unknownKey = spawnSync(process.execPath, [CLI, '--config', 'x.config.mjs', 'list'], {
      cwd: dir.path,
      encoding: 'utf8',
    });
    expect(unknownKey.status).toBe(1);
    expect(unknownKey.stderr).toContain('No config file at');
  });
});
