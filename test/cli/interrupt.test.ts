import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  detectContainment,
  isProcessAlive,
  Schedule,
  type Sundial,
  waitUntilStopped,
} from '../../src/index.ts';
import { tempDir, waitFor } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * `sundial interrupt` against a real `sundial work` daemon: a run stopped by its command's pid or by
 * its run id, while the daemon goes on running other runs.
 */
describe('sundial interrupt', () => {
  let dir: ReturnType<typeof tempDir>;
  let app: Sundial;
  let work: ReturnType<typeof spawn> | null = null;
  const pidFile = () => join(dir.path, 'long.pid');

  beforeEach(() => {
    dir = tempDir();
    writeFileSync(
      join(dir.path, 'sundial.config.ts'),
      `
export default {
  store: { path: ${JSON.stringify(join(dir.path, 'app.db'))} },
  schedule(schedule: any) {
    schedule.command('/bin/sh', ['-c', '(read -r pid rest < /proc/self/stat; echo $pid > ${pidFile()}; exec sleep 60) & echo working; wait']).name('long').daily();
    schedule.call(({ log }: any) => log('quick one')).name('quick').daily();
  },
};
`,
    );
    app = createSundial({ store: { path: join(dir.path, 'app.db') } });
  });
  afterEach(async () => {
    work?.kill('SIGKILL');
    await app.close();
    dir.cleanup();
  });

  const cli = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir.path, encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  /** Queues a run of a task as `sundial test` would (the daemon runs it). */
  async function trigger(taskId: string): Promise<string> {
    const schedule = new Schedule();
    schedule
      .call(() => {})
      .name(taskId)
      .daily();
    const scheduler = app.scheduler(schedule, { autostart: false });
    const { jobId } = await scheduler.trigger(taskId);
    await scheduler.close();
    return jobId;
  }

  /**
   * The host pid of the sleep the long command starts. (Not the shell's `$$`: in a PID namespace a
   * command sees pids of its own; /proc, the host's, tells the subshell its host pid.)
   */
  async function startedCommand(): Promise<number> {
    const pid = await waitFor(
      () => (existsSync(pidFile()) ? Number(readFileSync(pidFile(), 'utf8')) : null),
      {
        timeoutMs: 20_000,
        message: 'the long command to start',
      },
    );
    rmSync(pidFile());
    return pid;
  }

  const stateOf = async (id: string) => (await app.store.getJob(id))!.state;

  it('interrupts a plain job from the library, saying honestly that nothing shows when it stops', async () => {
    let aborted = false;
    app.worker('emails', {
      send: (_payload, ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve(null);
          }),
        ),
    });
    const { id } = await app.queue('emails').add('send');
    await waitFor(async () => (await stateOf(id)) === 'active');
    const run = await app.interrupt(`run:${id}`);
    expect(run).toMatchObject({ runId: id, queue: 'emails', taskId: null, pid: null, heldLock: false });
    expect(await waitUntilStopped(app, run, 1000)).toBeNull();
    await waitFor(() => aborted, { message: 'the handler to be aborted' });
    expect(await stateOf(id)).toBe('cancelled');
  });

  it('stops one run by the host pid of a process its command started, or by its run id, and the daemon goes on', async () => {
    work = spawn(process.execPath, [CLI, 'work', '--no-scheduler'], { cwd: dir.path, stdio: 'ignore' });

    const first = await trigger('long');
    const pid = await startedCommand();
    // Where the host allows it, the daemon runs its commands in PID namespaces of their own.
    if (detectContainment().kind === 'namespace') {
      expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
    }
    const byPid = cli('interrupt', `pid:${pid}`);
    expect(byPid).toMatchObject({ code: 0, stdout: `interrupted run ${first} of task long (pid ${pid})` });
    expect(await stateOf(first)).toBe('cancelled');
    expect(isProcessAlive(pid)).toBe(false);

    const second = await trigger('long');
    const secondPid = await startedCommand();
    const byRun = cli('interrupt', second, '--json');
    expect(byRun.code).toBe(0);
    expect(JSON.parse(byRun.stdout)).toMatchObject({ runId: second, taskId: 'long', stopped: true });
    expect(await stateOf(second)).toBe('cancelled');
    await waitFor(() => !isProcessAlive(secondPid), { message: 'the second command to be killed' });

    // The daemon is still running runs.
    const quick = await trigger('quick');
    const done = await waitFor(async () => ((await stateOf(quick)) === 'completed' ? true : null), {
      timeoutMs: 20_000,
      message: 'the quick run',
    });
    expect(done).toBe(true);
    expect(work.exitCode).toBeNull();

    expect(cli('interrupt', quick)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`Run ${quick} is not running (it is completed)`),
    });
    expect(cli('interrupt', 'pid:1')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Process 1 is not running a Sundial task'),
    });
    expect(cli('interrupt', 'everything')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Invalid run: "everything"'),
    });
  });
});
