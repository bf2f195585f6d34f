import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Schedule } from '../../src/index.ts';
import { waitFor } from '../helpers.ts';
import { enginesUnderTest, useSharedStore } from '../process/children.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const STORE_FROM_ENV = fileURLToPath(new URL('../fixtures/store-from-env.ts', import.meta.url));

/** The tasks, as a module both this test and the CLI's config load. */
const TASKS = `export function defineTasks(schedule) {
  schedule.call(() => {}).name('never').yearly();
  schedule.call(({ log }) => log('done')).name('ran').yearly();
  schedule.call(() => {}).name('missed').yearly();
  schedule.call(() => {}).name('paused').yearly();
}
`;

/**
 * `sundial list` reads the same state the same way on every engine: a task that never ran, one run
 * by hand, one whose occurrence was fired but ran nothing (missed), and a paused one.
 */
describe.each(await enginesUnderTest())('sundial list on %s', (engine) => {
  const shared = useSharedStore(engine);

  it('shows the latest run, not the latest fire, and no next run for a paused task', async () => {
    const { sundial } = shared;
    writeFileSync(join(shared.dir, 'tasks.mjs'), TASKS);
    const { defineTasks } = (await import(join(shared.dir, 'tasks.mjs'))) as {
      defineTasks: (schedule: Schedule) => void;
    };
    const schedule = new Schedule();
    defineTasks(schedule);
    const tasks = schedule.load();
    const scheduler = sundial.scheduler(tasks, { autostart: false });
    const now = Date.now();
    await scheduler.sync(now);
    const { jobId } = await scheduler.trigger('ran');
    const worker = sundial.taskWorker(tasks);
    await waitFor(async () => (await sundial.store.getJob(jobId))?.state === 'completed');
    await worker.close();
    // An occurrence that was fired without a run (missed while no scheduler ran).
    const missed = (await sundial.store.listSchedules()).find((record) => record.id === 'missed')!;
    await sundial.store.fireSchedule({
      id: 'missed',
      expectedNextRunAt: missed.nextRunAt!,
      nextRunAt: missed.nextRunAt! + 1000,
      firedAt: now,
      jobs: [],
    });
    await sundial.store.setSchedulePaused('paused', true, 'quarter end', now);

    writeFileSync(
      join(shared.dir, 'sundial.config.mjs'),
      `import { storeFromEnv } from ${JSON.stringify(STORE_FROM_ENV)};
import { defineTasks } from './tasks.mjs';
export default { store: storeFromEnv(), schedule: defineTasks };`,
    );
    const listed = spawnSync(process.execPath, [CLI, 'list', '--json'], {
      cwd: shared.dir,
      env: { ...process.env, ...shared.env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(listed.stderr).toBe('');
    const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
    const byId = Object.fromEntries(rows.map((row) => [row.id, row]));
    const ran = (await sundial.store.getJob(jobId))!;
    expect(byId.never).toMatchObject({
      lastRunAt: null,
      lastStatus: null,
      paused: false,
      nextRunAt: expect.any(Number),
    });
    expect(byId.ran).toMatchObject({ lastRunAt: ran.startedAt, lastStatus: 'completed', paused: false });
    expect(byId.missed).toMatchObject({
      lastRunAt: null,
      lastStatus: null,
      nextRunAt: missed.nextRunAt! + 1000,
    });
    expect(byId.paused).toMatchObject({
      nextRunAt: null,
      lastRunAt: null,
      lastStatus: null,
      paused: true,
      note: 'quarter end',
    });
  });
});
