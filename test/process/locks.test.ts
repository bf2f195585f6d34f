import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers.ts';
import { enginesUnderTest, startTaskWorker, useSharedStore } from './children.ts';

describe.each(await enginesUnderTest())('task locks across real processes (%s)', (engine) => {
  const shared = useSharedStore(engine);

  it('reclaims at once the lock of a holder killed with SIGKILL (dead pid), and the task runs again', async () => {
    const victim = startTaskWorker({
      ...shared.env,
      MODE: 'hang',
      LEASE_MS: 1500,
      HEARTBEAT_MS: 200,
    });
    await victim.ready;
    const job = await shared.sundial
      .queue('sundial.tasks')
      .add('task', { taskId: 'report' }, { attempts: 1 });
    await waitFor(() => victim.started.length === 1, { message: 'the victim to start the task' });
    const [held] = await shared.sundial.locks.list();
    expect(held).toMatchObject({ name: 'task:report', ttlMs: 60_000, owner: { pid: victim.process.pid } });

    victim.process.kill('SIGKILL');
    await victim.exited;
    const rescuer = startTaskWorker({ ...shared.env, MODE: 'run', STALLED_CHECK_MS: 100 });
    await rescuer.ready;

    // Well inside the lock's 60 s TTL: only the dead-pid reclaim can let the rerun through.
    const done = await waitFor(
      async () => {
        const current = await shared.sundial.queue('sundial.tasks').getJob(job.id);
        return current?.state === 'completed' ? current : null;
      },
      { timeoutMs: 20_000, message: 'the task to run again and complete' },
    );
    expect(done.result).toMatchObject({ output: `ran in ${rescuer.process.pid}\n` });
    expect((done.result as { skipped?: string }).skipped).toBeUndefined();
    expect(done.history.map((h) => h.outcome)).toEqual(['stalled', 'completed']);
    expect(await shared.sundial.locks.list()).toEqual([]); // released after the run
  });
});
