import { randomUUID } from 'node:crypto';
import { existsSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ContainmentMode,
  createSundial,
  defineConfig,
  detectContainment,
  FakeClock,
  InvalidOptionError,
  isProcessAlive,
  type Job,
  type LoadedTask,
  Schedule,
  type Sundial,
  type TaskRunInfo,
  taskHandlers,
} from '../../src/index.ts';
import { containmentWarning } from '../../src/schedule/containment.ts';
import { processesWithEnv, sleep, tempDir, waitFor } from '../helpers.ts';

const NAMESPACES = detectContainment().kind === 'namespace';
/** The containments this host can run: the tests of the process group run everywhere. */
const CONTAINMENTS: ContainmentMode[] = NAMESPACES ? ['namespace', 'process-group'] : ['process-group'];

/** An environment entry to find a command's processes by in /proc (all it starts inherit it). */
function uniqueMarker(): { value: string; entry: string } {
  const value = randomUUID();
  return { value, entry: `SUNDIAL_TEST_MARKER=${value}` };
}

function catchError(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return null;
}

describe('task runner', () => {
  let dir: ReturnType<typeof tempDir>;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    sundial = createSundial({ store: { path: join(dir.path, 'tasks.db') } });
  });
  afterEach(async () => {
    await sundial.close({ graceMs: 0 });
    dir.cleanup();
  });

  /** Runs task `id` now through a task worker, queued by a scheduler as `sundial test` does. */
  async function runOnce(
    schedule: Schedule | LoadedTask[],
    id: string,
    options: Parameters<Sundial['taskWorker']>[1] = {},
  ): Promise<Job> {
    const tasks = schedule instanceof Schedule ? schedule.load() : schedule;
    sundial.taskWorker(tasks, options);
    return finished(await trigger(tasks, id));
  }

  /** Queues a run of task `id` (a task worker must be running for it). */
  async function trigger(tasks: LoadedTask[], id: string): Promise<string> {
    return (await sundial.scheduler(tasks, { autostart: false }).trigger(id)).jobId;
  }

  function finished(jobId: string): Promise<Job> {
    return waitFor(
      async () => {
        const job = await sundial.queue('sundial.tasks').getJob(jobId);
        return job && ['completed', 'dead'].includes(job.state) ? job : null;
      },
      { timeoutMs: 20_000, message: `run ${jobId} to finish` },
    );
  }

  it('runs a function, capturing what it logs with secrets masked', async () => {
    const schedule = new Schedule();
    const jwt =
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    schedule
      .call(async ({ log, taskId }) => {
        log('cleaning up for', taskId);
        log(`password=hunter2 and ${jwt} and Authorization: Bearer abcdefghijklmnop`);
      })
      .name('cleanup');
    const job = await runOnce(schedule, 'cleanup');
    expect(job.state).toBe('completed');
    const output = (job.result as { output: string }).output;
    expect(output).toContain('cleaning up for cleanup');
    expect(output).toContain('password=[masked]');
    expect(output).toContain('Bearer [masked]');
    expect(output).not.toContain('hunter2');
    expect(output).not.toContain(jwt);
  });

  it('runs a command from an argv array, capturing stdout and stderr', async () => {
    const schedule = new Schedule();
    schedule
      .command(process.execPath, ['-e', "console.log('to stdout'); console.error('to stderr')"])
      .name('node');
    const job = await runOnce(schedule, 'node');
    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ exitCode: 0 });
    expect((job.result as { output: string }).output).toMatch(
      /to stdout[\s\S]*to stderr|to stderr[\s\S]*to stdout/,
    );
  });

  it('does not interpolate arguments unless the task asks for a shell', async () => {
    const schedule = new Schedule();
    schedule.command('echo', ['$HOME', '`id`']).name('literal');
    schedule.command('echo "home is $HOME"').name('shelled').shell();
    const literal = await runOnce(schedule, 'literal');
    expect((literal.result as { output: string }).output.trim()).toBe('$HOME `id`');
    const shelled = await sundial.queue('sundial.tasks').add('task', { taskId: 'shelled' }, { attempts: 1 });
    await waitFor(
      async () => (await sundial.queue('sundial.tasks').getJob(shelled.id))?.state === 'completed',
    );
    const job = (await sundial.queue('sundial.tasks').getJob(shelled.id))!;
    expect((job.result as { output: string }).output.trim()).toBe(`home is ${process.env.HOME}`);
  });

  it('fails a command that exits non-zero, with its output in the error', async () => {
    const schedule = new Schedule();
    schedule.command(process.execPath, ['-e', "console.error('disk full'); process.exit(3)"]).name('failing');
    const job = await runOnce(schedule, 'failing');
    expect(job.state).toBe('dead');
    expect(job.error!.message).toContain('Command exited with code 3');
    expect(job.error!.message).toContain('disk full');
  });

  it('refuses a command outside the allowlist before spawning it', async () => {
    const marker = join(dir.path, 'should-not-exist');
    const schedule = new Schedule();
    schedule.command('touch', [marker]).name('touch');
    const job = await runOnce(schedule, 'touch', { allowedCommands: ['echo', 'pg_dump'] });
    expect(job).toMatchObject({ state: 'dead', deadLetter: { reason: 'unrecoverable' } });
    expect(job.error!.message).toContain('Command "touch" is not allowed (allowedCommands: echo, pg_dump)');
    expect(existsSync(marker)).toBe(false);
  });

  it('with an allowlist, refuses shell lines unless sh is allowed, and a task that sets PATH', async () => {
    const schedule = new Schedule();
    schedule.command('echo', ['ok;', 'id']).name('sneaky').shell();
    schedule.command('echo', ['hi'], { env: { PATH: dir.path } }).name('repathed');
    const sneaky = await runOnce(schedule, 'sneaky', { allowedCommands: ['echo'] });
    expect(sneaky.state).toBe('dead');
    expect(sneaky.error!.message).toContain('.shell() needs "sh" in the list');
    const added = await sundial.queue('sundial.tasks').add('task', { taskId: 'repathed' }, { attempts: 1 });
    const repathed = await waitFor(async () => {
      const job = await sundial.queue('sundial.tasks').getJob(added.id);
      return job?.state === 'dead' ? job : null;
    });
    expect(repathed.error!.message).toContain('sets PATH');
  });

  it('refuses at run time a loader variable that reached a command after its definition was checked', async () => {
    const marker = join(dir.path, 'should-not-exist');
    const schedule = new Schedule();
    schedule.command('touch', [marker]).name('touch');
    const tasks = schedule.load();
    const action = tasks[0]!.definition.action as { env: Record<string, string> };
    action.env.Ld_Audit = join(dir.path, 'audit.so');
    const job = await runOnce(tasks, 'touch');
    expect(job).toMatchObject({ state: 'dead', deadLetter: { reason: 'unrecoverable' } });
    expect(job.error!.message).toContain('Command "touch" sets Ld_Audit, refused in command tasks');
    expect(existsSync(marker)).toBe(false);
  });

  it('with an allowlist, refuses module search paths as it refuses PATH, in any case', async () => {
    const schedule = new Schedule();
    schedule
      .command('/bin/sh', ['-c', 'echo "$NODE_PATH"'], { env: { node_path: dir.path, NODE_PATH: dir.path } })
      .name('modules');
    const refused = await runOnce(schedule, 'modules', { allowedCommands: ['/bin/sh'] });
    expect(refused).toMatchObject({ state: 'dead', deadLetter: { reason: 'unrecoverable' } });
    expect(refused.error!.message).toMatch(/sets (node_path|NODE_PATH), refused with allowedCommands/);
    // HOME too: zsh reads its .zshenv from there, Python its user site.
    const home = new Schedule();
    home.command('/bin/sh', ['-c', 'echo "$HOME"'], { env: { HOME: dir.path } }).name('home');
    const refusedHome = await runOnce(home, 'home', { allowedCommands: ['/bin/sh'] });
    expect(refusedHome.error!.message).toMatch(/sets HOME, refused with allowedCommands/);
  });

  it('stores the whole of a large output that JSON makes six times longer, with the task worker’s default result limit', async () => {
    const schedule = new Schedule();
    // 200 KiB of control characters: 1.2 MB of JSON, over a plain worker's 1 MiB result limit.
    schedule.call(({ log }) => log('\u0001'.repeat(200 * 1024 - 1))).name('noisy');
    const job = await runOnce(schedule, 'noisy', { maxOutputBytes: 200 * 1024 });
    expect(job.state).toBe('completed');
    expect((job.result as { output: string }).output.length).toBe(200 * 1024);
  });

  it('passes module search paths to a command when no allowlist is set', async () => {
    const schedule = new Schedule();
    // (Short enough to escape the masking of env values in the output.)
    schedule.command('/bin/sh', ['-c', 'echo "$PYTHONPATH"'], { env: { PYTHONPATH: 'lib' } }).name('py');
    const job = await runOnce(schedule, 'py');
    expect(job.state).toBe('completed');
    expect((job.result as { output: string }).output).toBe('lib\n');
  });

  it('finishes when the command exits, even if a background child keeps its output open', async () => {
    const schedule = new Schedule();
    schedule.command('/bin/sh', ['-c', 'sleep 30 & echo started']).name('daemonising');
    const job = await runOnce(schedule, 'daemonising');
    expect(job.state).toBe('completed');
    expect((job.result as { output: string }).output).toBe('started\n');
  });

  it.each(CONTAINMENTS)(
    'kills the whole process group at the timeout, keeping what it printed (%s)',
    async (containment) => {
      const marker = uniqueMarker();
      const schedule = new Schedule();
      // The shell starts a grandchild and waits on it: killing only the shell would orphan the sleep.
      schedule
        .command('/bin/sh', ['-c', 'sleep 60 & echo waiting for it; wait'], {
          env: { SUNDIAL_TEST_MARKER: marker.value },
        })
        .name('stuck')
        .timeoutAfter(500);
      const job = await runOnce(schedule, 'stuck', { killGraceMs: 200, containment });
      expect(job).toMatchObject({ state: 'dead', error: { category: 'timeout' } });
      expect(job.error!.message).toMatch(/timed out after 500 ms[\s\S]*--- output ---\nwaiting for it/);
      await waitFor(() => processesWithEnv(marker.entry).length === 0, {
        timeoutMs: 5000,
        message: 'the shell and its grandchild sleep to be killed',
      });
    },
  );

  if (!NAMESPACES && process.env.CI === 'true') {
    it('can contain commands in a PID namespace on this host', () => {
      throw new Error(`PID-namespace containment is not available: ${JSON.stringify(detectContainment())}`);
    });
  }

  describe.runIf(NAMESPACES)('in a PID namespace', () => {
    it('kills at the timeout everything the command started, even a process that left its group with setsid', async () => {
      const marker = uniqueMarker();
      const escaped = join(dir.path, 'escaped');
      const schedule = new Schedule();
      schedule
        .command(
          '/bin/sh',
          [
            '-c',
            `setsid /bin/sh -c 'touch "$0"; exec sleep 300' ${escaped} &
             while [ ! -e ${escaped} ]; do sleep 0.05; done; echo started; sleep 300`,
          ],
          { env: { SUNDIAL_TEST_MARKER: marker.value } },
        )
        .name('escaping')
        .timeoutAfter(3000);
      const tasks = schedule.load();
      sundial.taskWorker(tasks, { killGraceMs: 200, containment: 'namespace' });
      const jobId = await trigger(tasks, 'escaping');
      const leaver = await waitFor(
        () => processesWithEnv(marker.entry).find((p) => p.sid === p.pid && p.command.startsWith('sleep')),
        { timeoutMs: 20_000, message: 'the command to start a sleep in a session of its own' },
      );
      const job = await finished(jobId);
      expect(job).toMatchObject({ state: 'dead', error: { category: 'timeout' } });
      expect(job.error!.message).toContain('--- output ---\nstarted');
      await waitFor(() => processesWithEnv(marker.entry).length === 0, {
        timeoutMs: 10_000,
        message: 'every process of the command to be gone',
      }).catch(() => {});
      expect(processesWithEnv(marker.entry)).toEqual([]);
      expect(isProcessAlive(leaver.pid)).toBe(false);
    });

    it('stops the command gracefully first: its SIGTERM handler runs and what it prints is kept', async () => {
      const schedule = new Schedule();
      schedule
        .command('/bin/sh', ['-c', 'trap "echo got SIGTERM; exit 3" TERM; echo ready; sleep 300 & wait'])
        .name('graceful')
        .timeoutAfter(1500);
      // A grace far beyond the wait below: only the SIGTERM can end this run in time.
      const job = await runOnce(schedule, 'graceful', { killGraceMs: 600_000, containment: 'namespace' });
      expect(job).toMatchObject({ state: 'dead', error: { category: 'timeout' } });
      expect(job.error!.message).toContain('--- output ---\nready\ngot SIGTERM');
    });

    it('runs the command in a PID namespace of its own, by default on this host, without a warning', async () => {
      const warnings: unknown[] = [];
      sundial.on('error', ({ error }) => warnings.push(error));
      const schedule = new Schedule();
      schedule.command('readlink', ['/proc/self/ns/pid']).name('where');
      const job = await runOnce(schedule, 'where');
      expect(job.state).toBe('completed');
      const namespace = (job.result as { output: string }).output.trim();
      expect(namespace).toMatch(/^pid:\[\d+\]$/);
      expect(namespace).not.toBe(readlinkSync('/proc/self/ns/pid'));
      expect(warnings).toEqual([]);
    });
  });

  it.each(CONTAINMENTS)(
    'kills a command that ignores SIGTERM after killGraceMs, with what it started (%s)',
    async (containment) => {
      const marker = uniqueMarker();
      const schedule = new Schedule();
      schedule
        .command('/bin/sh', ['-c', 'trap "" TERM; sleep 300 & echo stubborn; wait'], {
          env: { SUNDIAL_TEST_MARKER: marker.value },
        })
        .name('stubborn')
        .timeoutAfter(500);
      const job = await runOnce(schedule, 'stubborn', { killGraceMs: 300, containment });
      expect(job).toMatchObject({ state: 'dead', error: { category: 'timeout' } });
      expect(job.error!.message).toContain('--- output ---\nstubborn');
      await waitFor(() => processesWithEnv(marker.entry).length === 0, {
        timeoutMs: 10_000,
        message: 'every process of the command to be gone',
      }).catch(() => {});
      expect(processesWithEnv(marker.entry)).toEqual([]);
    },
  );

  it.each(CONTAINMENTS)('reports a command killed by a signal as killed (%s)', async (containment) => {
    const schedule = new Schedule();
    schedule.command('/bin/sh', ['-c', 'echo about to crash; kill -SEGV $$']).name('crashing');
    const job = await runOnce(schedule, 'crashing', { containment });
    expect(job.state).toBe('dead');
    expect(job.error!.message).toContain('Command was killed by SIGSEGV');
    expect(job.error!.message).toContain('about to crash');
  });

  it("forced to the process group, runs commands in the worker's own PID namespace, and does not warn of its choice", async () => {
    const warnings: { code?: string; message: string }[] = [];
    sundial.on('error', ({ error }) => warnings.push(error as Error & { code: string }));
    const schedule = new Schedule();
    schedule.command('readlink', ['/proc/self/ns/pid']).name('where');
    const tasks = schedule.load();
    sundial.taskWorker(tasks, { containment: 'process-group' });
    const where = await finished(await trigger(tasks, 'where'));
    expect((where.result as { output: string }).output.trim()).toBe(readlinkSync('/proc/self/ns/pid'));
    expect(warnings).toEqual([]);
  });

  it('warns when auto found only a process group, and only then', () => {
    const fallback = {
      kind: 'process-group' as const,
      reason: 'setpriv and unshare (util-linux) were not found',
    };
    const warning = containmentWarning('auto', fallback);
    expect(warning).toMatchObject({ code: 'SUNDIAL_PROCESS_GROUP_ONLY' });
    expect(warning!.message).toContain(
      'contained by their process group only (setpriv and unshare (util-linux) were not found)',
    );
    expect(containmentWarning('process-group', fallback)).toBeNull();
    expect(containmentWarning('auto', detectContainment())).toBeNull(); // this host has namespaces
  });

  it('ends a function run at its timeout even when the function ignores its signal, keeping the lock until it returns', async () => {
    const failures: TaskRunInfo[] = [];
    let finish = () => {};
    let returned = false;
    const schedule = new Schedule();
    schedule
      .call(async ({ log }) => {
        log('started the slow part');
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        returned = true;
      })
      .name('deaf')
      .timeoutAfter(300)
      .onFailure((run) => void failures.push(run));
    const job = await runOnce(schedule, 'deaf');
    expect(job).toMatchObject({ state: 'dead', error: { category: 'timeout' } });
    expect(job.error!.message).toContain('started the slow part');
    expect(failures.map((run) => run.output)).toEqual(['started the slow part\n']);
    // The function is still going: no other run of the task may start beside it.
    const held = async () => (await sundial.locks.list()).some((lock) => lock.name === 'task:deaf');
    expect(returned).toBe(false);
    expect(await held()).toBe(true);
    finish();
    await waitFor(async () => !(await held()), { message: 'the lock to be released' });
    expect(returned).toBe(true);
  });

  it('goes on without a hook that never settles, saying so in the output', async () => {
    const schedule = new Schedule();
    schedule
      .call(({ log }) => log('did the work'))
      .name('stuck-hook')
      .after(() => new Promise(() => {}));
    const job = await runOnce(schedule, 'stuck-hook', { hookTimeoutMs: 100 });
    expect(job.state).toBe('completed');
    expect((job.result as { output: string }).output).toBe(
      'did the work\n[hook still running after 100 ms; the run goes on without it]\n',
    );
    // A hook is not the task's work: it does not keep the task's lock.
    expect((await sundial.locks.list()).map((lock) => lock.name)).not.toContain('task:stuck-hook');
  });

  it('refuses tasks whose runs take turns through the lock when there are no locks', () => {
    const schedule = new Schedule();
    schedule
      .call(() => {})
      .name('turns')
      .daily()
      .overlap('bufferOne');
    expect(() => taskHandlers(schedule.load())).toThrow(
      /Invalid locks: .*"turns" use overlap 'bufferOne' or 'replace'/,
    );
  });

  it.each([
    ['allowedCommands', 'pg_dump', 'allowedCommands'],
    ['allowedCommands', [1, 2], 'allowedCommands[0]'],
    ['allowedCommands', ['pg_dump', ''], 'allowedCommands[1]'],
    ['allowedCommands', ['pg_dump -Fc'], 'allowedCommands[0]'],
    ['allowedCommands', ['./bin/backup'], 'allowedCommands[0]'],
    ['killGraceMs', -1, 'killGraceMs'],
    ['killGraceMs', '5000', 'killGraceMs'],
    ['maxOutputBytes', 0, 'maxOutputBytes'],
    ['secretKeys', 'stripe_key', 'secretKeys'],
    ['secretKeys', ['stripe_key', ''], 'secretKeys[1]'],
    ['lockTtlMs', 10, 'lockTtlMs'],
    ['pingTimeoutMs', 1.5, 'pingTimeoutMs'],
    ['hookTimeoutMs', null, 'hookTimeoutMs'],
    ['locks', {}, 'locks'],
  ])('refuses %s %j when the task worker is made, in taskHandlers and in a config', (name, value, field) => {
    const schedule = new Schedule();
    schedule.command('pg_dump', ['app']).name('backup');
    const tasks = schedule.load();
    const refusals = [
      () => sundial.taskWorker(tasks, { [name]: value }),
      () => taskHandlers(tasks, { locks: sundial.locks, [name]: value }),
      () => defineConfig({ taskRunner: { [name]: value } }),
    ];
    for (const [index, refuse] of refusals.entries()) {
      const error = catchError(refuse);
      expect(error).toBeInstanceOf(InvalidOptionError);
      const prefix = index === 2 ? 'taskRunner' : 'options';
      expect((error as InvalidOptionError).field).toBe(`${prefix}.${field}`);
      expect((error as InvalidOptionError).message).toMatch(/^Invalid \S+: .+ \(.+\)$/);
    }
  });

  it('accepts executable names and absolute paths in allowedCommands', () => {
    const schedule = new Schedule();
    schedule.command('pg_dump', ['app']).name('backup');
    expect(() =>
      sundial.taskWorker(schedule, {
        allowedCommands: ['pg_dump', '/usr/local/bin/backup'],
        autostart: false,
      }),
    ).not.toThrow();
  });

  it('tells a command its task and run ids', async () => {
    const schedule = new Schedule();
    schedule.command('/bin/sh', ['-c', 'echo "$SUNDIAL_TASK_ID $SUNDIAL_RUN_ID"']).name('who-am-i');
    const job = await runOnce(schedule, 'who-am-i');
    expect((job.result as { output: string }).output).toBe(`who-am-i ${job.id}\n`);
  });

  it('keeps the end of long output, up to maxOutputBytes, saying how much was cut', async () => {
    const schedule = new Schedule();
    schedule
      .command(process.execPath, ['-e', "for (let i = 0; i < 5000; i++) console.log('line ' + i)"])
      .name('chatty');
    const job = await runOnce(schedule, 'chatty', { maxOutputBytes: 1000 });
    const output = (job.result as { output: string }).output;
    expect(output).toMatch(/^\[\d+ bytes of earlier output cut\]\n/);
    expect(Buffer.byteLength(output.split('\n').slice(1).join('\n'))).toBeLessThanOrEqual(1000);
    expect(output).toContain('line 4999');
    expect(output).not.toContain('line 10\n');
  });

  it('pings a URL: a 2xx answer succeeds, anything else fails', async () => {
    const server: Server = createServer((request, response) => {
      response.writeHead(request.url === '/ok' ? 200 : 503, { 'content-type': 'text/plain' });
      response.end(request.url === '/ok' ? 'fine' : 'down for maintenance');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const schedule = new Schedule();
      schedule.ping(`http://127.0.0.1:${port}/ok`).name('ok');
      schedule.ping(`http://127.0.0.1:${port}/down`).name('down');
      const ok = await runOnce(schedule, 'ok');
      expect(ok).toMatchObject({ state: 'completed', result: { status: 200 } });
      expect((ok.result as { output: string }).output).toContain('fine');
      const down = await sundial.queue('sundial.tasks').add('task', { taskId: 'down' }, { attempts: 1 });
      const failed = await waitFor(async () => {
        const job = await sundial.queue('sundial.tasks').getJob(down.id);
        return job?.state === 'dead' ? job : null;
      });
      expect(failed.error!.message).toContain('answered 503');
      expect(failed.error!.message).toContain('down for maintenance');
    } finally {
      server.close();
    }
  });

  it('reads no more of a ping’s answer than the output keeps, even an endless one', async () => {
    const server: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => response.write('x'.repeat(16 * 1024)), 1);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const schedule = new Schedule();
      schedule.ping(`http://127.0.0.1:${port}/stream`).name('endless');
      const job = await runOnce(schedule, 'endless', { maxOutputBytes: 4096 });
      expect(job).toMatchObject({ state: 'completed', result: { status: 200 } });
      const output = (job.result as { output: string }).output;
      expect(output).toContain('[the rest of the answer was not read]');
      expect(Buffer.byteLength(output)).toBeLessThan(4200);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('calls before, onSuccess, onFailure and after hooks with the run and its output', async () => {
    const seen: [string, TaskRunInfo][] = [];
    const schedule = new Schedule();
    schedule
      .call(({ log }) => log('working'))
      .name('hooked')
      .before((run) => void seen.push(['before', run]))
      .onSuccess((run) => void seen.push(['success', run]))
      .onFailure((run) => void seen.push(['failure', run]))
      .after((run) => void seen.push(['after', run]));
    await runOnce(schedule, 'hooked');
    expect(seen.map(([name]) => name)).toEqual(['before', 'success', 'after']);
    expect(seen[1]![1]).toMatchObject({ taskId: 'hooked', ok: true, output: 'working\n' });
  });

  describe('on a Sundial with a clock of its own', () => {
    const at = Date.UTC(2030, 0, 2, 3, 4, 5);
    let clocked: Sundial;

    beforeEach(() => {
      clocked = createSundial({ store: { path: join(dir.path, 'clocked.db') }, clock: new FakeClock(at) });
    });
    afterEach(() => clocked.close({ graceMs: 0 }));

    /** Starts a task worker for `schedule` and queues a run of its only task; its job id. */
    async function startRun(schedule: Schedule): Promise<string> {
      const tasks = schedule.load();
      clocked.taskWorker(tasks);
      return (await clocked.scheduler(tasks, { autostart: false }).trigger(tasks[0]!.definition.id)).jobId;
    }

    it('times a run by that clock, as the hooks see it', async () => {
      const seen: TaskRunInfo[] = [];
      const schedule = new Schedule();
      schedule
        .call(() => {})
        .name('clocked')
        .after((run) => void seen.push(run));
      const jobId = await startRun(schedule);
      await waitFor(() => seen.length === 1, { timeoutMs: 20_000, message: `run ${jobId} to end` });
      expect(seen[0]).toMatchObject({ taskId: 'clocked', ok: true, startedAt: at, finishedAt: at });
    });

    it("ends an interrupted run at that clock's time", async () => {
      let started = false;
      const schedule = new Schedule();
      schedule
        .call(
          ({ signal }) =>
            new Promise<void>((resolve) => {
              started = true;
              signal.addEventListener('abort', () => resolve());
            }),
        )
        .name('long');
      const jobId = await startRun(schedule);
      await waitFor(() => started, { timeoutMs: 20_000, message: `run ${jobId} to start` });
      await clocked.interrupt(jobId);
      const job = await clocked.queue('sundial.tasks').getJob(jobId);
      expect(job).toMatchObject({ state: 'cancelled', finishedAt: at });
    });
  });

  it('skips a run while another live run holds the task’s lock', async () => {
    let ran = false;
    const schedule = new Schedule();
    schedule
      .call(() => {
        ran = true;
      })
      .name('exclusive');
    const held = await sundial.locks.acquire('task:exclusive', { runId: 'a manual run' });
    const job = await runOnce(schedule, 'exclusive');
    expect(job.state).toBe('completed');
    expect((job.result as { skipped: string }).skipped).toContain('held by a manual run');
    expect(ran).toBe(false);
    await held!.release();
  });

  it('runs a scheduled function every second, end to end', async () => {
    const runs: number[] = [];
    const schedule = new Schedule();
    schedule
      .call(({ scheduledFor }) => void runs.push(scheduledFor))
      .name('every-second')
      .everySecond();
    sundial.taskWorker(schedule);
    await sundial.scheduler(schedule).start();
    await waitFor(() => runs.length >= 2, { timeoutMs: 10_000, message: 'two runs' });
    expect(runs[1]! - runs[0]!).toBe(1000);
    await sleep(10);
  });
});
