import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { detectContainment, Schedule } from '../../src/index.ts';
import { processesWithEnv, waitFor } from '../helpers.ts';
import { startTaskWorker, useSharedDatabase } from './children.ts';

const NAMESPACES = detectContainment().kind === 'namespace';

if (!NAMESPACES && process.env.CI === 'true') {
  it('can contain commands in a PID namespace on this host', () => {
    throw new Error(`PID-namespace containment is not available: ${JSON.stringify(detectContainment())}`);
  });
}

/**
 * A task worker process killed with SIGKILL cannot stop its commands itself: the kernel must. (On
 * SQLite only: what is tested is the worker's processes, not its store.)
 */
describe.runIf(NAMESPACES)('commands of a task worker killed with SIGKILL', () => {
  const shared = useSharedDatabase('containment.db');

  it('die with it, even a process that left their group with setsid', async () => {
    const marker = randomUUID();
    const entry = `SUNDIAL_TEST_MARKER=${marker}`;
    const worker = startTaskWorker({
      SUNDIAL_DB: shared.db,
      COMMAND_MARKER: marker,
      CONTAINMENT: 'namespace',
    });
    await worker.ready;
    // The run is queued from here, as `sundial test` would: only the task's id matters.
    const schedule = new Schedule();
    schedule.call(() => {}).name('tree');
    const scheduler = shared.sundial.scheduler(schedule, { autostart: false });
    await scheduler.trigger('tree');
    await scheduler.close();
    await waitFor(() => processesWithEnv(entry).find((p) => p.sid === p.pid && p.command === 'sleep 300'), {
      timeoutMs: 20_000,
      message: 'the command to start a sleep in a session of its own',
    });
    expect(processesWithEnv(entry).length).toBeGreaterThan(1);

    worker.process.kill('SIGKILL');
    await worker.exited;
    await waitFor(() => processesWithEnv(entry).length === 0, {
      timeoutMs: 10_000,
      message: 'every process of the command to be gone',
    }).catch(() => {});
    expect(processesWithEnv(entry)).toEqual([]);
  });
});
