import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyScheduled,
  createSundial,
  cronForEvery,
  type DiscoveredTask,
  discoverTasks,
  type LoadedTask,
  listTaskFiles,
  Schedule,
  type TaskContext,
} from '../../src/index.ts';
import { tempDir, waitFor } from '../helpers.ts';

// Task files live in temp folders and are loaded through tsx by discovery: vitest's own transform
// is not the one that has to understand the decorators.
const SUNDIAL = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

/** Writes TypeScript task files (each importing `Scheduled` and `TaskContext`) under `root`. */
function writeTasks(root: string, files: Record<string, string>): void {
  for (const [name, body] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `import { Scheduled, type TaskContext } from ${JSON.stringify(SUNDIAL)};\n${body}`);
  }
}

const context = (taskId: string): TaskContext => ({
  taskId,
  scheduledFor: 0,
  signal: new AbortController().signal,
  log: () => {},
});

function loaded(tasks: DiscoveredTask[]): LoadedTask[] {
  const schedule = new Schedule();
  applyScheduled(schedule, tasks);
  return schedule.load();
}

/** What `schedule.load()` says about one discovered task on its own. */
function loadError(tasks: DiscoveredTask[], id: string): string {
  const task = tasks.find((t) => t.id === id);
  if (!task) throw new Error(`no task ${id} among ${tasks.map((t) => t.id).join(', ')}`);
  try {
    loaded([task]);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`task ${id} loaded without an error`);
}

describe('@Scheduled', () => {
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
    writeFileSync(join(dir.path, 'package.json'), '{ "type": "module" }\n');
  });
  afterEach(() => dir.cleanup());

  async function discover(files: Record<string, string>): Promise<DiscoveredTask[]> {
    writeTasks(join(dir.path, 'tasks'), files);
    return (await discoverTasks(listTaskFiles(['tasks'], dir.path), dir.path)).tasks;
  }

  it('turns decorated instance and static methods of exported classes into tasks with their options', async () => {
    const tasks = await discover({
      'reports.ts': `
export class Reports {
  @Scheduled({ cron: '30 2 * * *', timezone: 'Europe/Rome', tags: ['reports', 'nightly'], description: 'the nightly report' })
  nightly(_context: TaskContext) {}

  @Scheduled({ every: '5m', name: 'reports:warm', overlap: 'allow', misfire: { catchUp: '6h' }, jitter: '2s', timeout: 30_000 })
  static warm() {}

  @Scheduled({ every: '30s', environments: ['production'], evenInMaintenanceMode: true, between: ['08:00', '17:00'] })
  pulse() {}

  @Scheduled({ every: '2h', misfire: 'once', unlessBetween: ['22:00', '06:00'] })
  sweep() {}

  @Scheduled({ every: 86_400_000 })
  daily() {}

  notATask() {}
}
`,
    });
    const byId = new Map(loaded(tasks).map((task) => [task.definition.id, task.definition]));
    expect([...byId.keys()].sort()).toEqual([
      'Reports.daily',
      'Reports.nightly',
      'Reports.pulse',
      'Reports.sweep',
      'reports:warm',
    ]);
    expect(byId.get('Reports.nightly')).toMatchObject({
      schedule: { expression: '30 2 * * *', timezone: 'Europe/Rome', windows: [] },
      tags: ['reports', 'nightly'],
      description: 'the nightly report',
      overlap: 'skip',
      misfire: { policy: 'skip' },
      action: { kind: 'call' },
    });
    expect(byId.get('reports:warm')).toMatchObject({
      schedule: { expression: '*/5 * * * *' },
      overlap: 'allow',
      misfire: { policy: 'catchUp', windowMs: 6 * 3_600_000 },
      jitterMs: 2000,
      timeoutMs: 30_000,
    });
    expect(byId.get('Reports.pulse')).toMatchObject({
      schedule: { expression: '*/30 * * * * *', windows: [{ from: 480, to: 1020, exclude: false }] },
      environments: ['production'],
      evenInMaintenanceMode: true,
    });
    expect(byId.get('Reports.sweep')).toMatchObject({
      schedule: { expression: '0 */2 * * *', windows: [{ from: 1320, to: 360, exclude: true }] },
      misfire: { policy: 'once' },
    });
    expect(byId.get('Reports.daily')?.schedule.expression).toBe('0 0 * * *');
    expect(tasks.find((t) => t.id === 'reports:warm')).toMatchObject({
      isStatic: true,
      methodName: 'warm',
      file: join(dir.path, 'tasks', 'reports.ts'),
    });
  });

  it('runs an instance method on one instance of its class, made at the first run, and a static one on the class', async () => {
    const tasks = await discover({
      'counter.ts': `
export class Counter {
  static made = 0;
  count = 0;
  constructor() {
    Counter.made++;
  }

  @Scheduled({ every: '1m' })
  tick({ taskId }: TaskContext) {
    this.count++;
    return { taskId, count: this.count, made: Counter.made };
  }

  @Scheduled({ every: '1h' })
  async peek() {
    return { count: this.count, made: Counter.made };
  }

  @Scheduled({ cron: '@daily' })
  static nightly() {
    return this === Counter ? 'on the class' : 'elsewhere';
  }
}
`,
    });
    const owner = tasks[0]!.owner as unknown as { made: number };
    const fns = new Map(
      loaded(tasks).map(({ definition }) => [
        definition.id,
        (definition.action as { fn: (context: TaskContext) => unknown }).fn,
      ]),
    );
    // Loading (as `sundial list` does) constructs nothing.
    expect(owner.made).toBe(0);
    expect(await fns.get('Counter.tick')!(context('Counter.tick'))).toEqual({
      taskId: 'Counter.tick',
      count: 1,
      made: 1,
    });
    expect(await fns.get('Counter.tick')!(context('Counter.tick'))).toMatchObject({ count: 2, made: 1 });
    expect(await fns.get('Counter.peek')!(context('Counter.peek'))).toEqual({ count: 2, made: 1 });
    expect(await fns.get('Counter.nightly')!(context('Counter.nightly'))).toBe('on the class');
  });

  it('runs a decorated task through the scheduler and task worker, its output logged from this', async () => {
    const tasks = await discover({
      'greeter.ts': `
export class Greeter {
  private readonly greeting = 'hello from an instance';

  @Scheduled({ every: '1d', name: 'greet' })
  greet({ log }: TaskContext) {
    log(this.greeting);
  }
}
`,
    });
    const sundial = createSundial({ store: { path: join(dir.path, 'app.db') } });
    try {
      const schedule = loaded(tasks);
      sundial.taskWorker(schedule);
      const { jobId } = await sundial.scheduler(schedule, { autostart: false }).trigger('greet');
      const job = await waitFor(
        async () => {
          const job = await sundial.queue('sundial.tasks').getJob(jobId);
          return job && ['completed', 'dead'].includes(job.state) ? job : null;
        },
        { timeoutMs: 20_000, message: 'the greet task to finish' },
      );
      expect(job.state).toBe('completed');
      expect((job.result as { output: string }).output).toBe('hello from an instance\n');
    } finally {
      await sundial.close({ graceMs: 0 });
    }
  });

  it('refuses bad options at load with the task, the field and the value', async () => {
    const tasks = await discover({
      'bad.ts': `
const loose = (options: unknown) => Scheduled(options as never);
export class Bad {
  @loose({ cron: '0 * * * *', every: '5m' }) both() {}
  @loose({ name: 'no-when' }) neither() {}
  @Scheduled({ every: '7m' }) sevenMinutes() {}
  @Scheduled({ every: '90s' }) ninetySeconds() {}
  @Scheduled({ every: 1500 }) notWholeSeconds() {}
  @Scheduled({ every: '3d' }) threeDays() {}
  @Scheduled({ every: 'soon' }) notADuration() {}
  @loose({ crn: '0 * * * *', every: '1h' }) typo() {}
  @Scheduled({ cron: '61 * * * *' }) badCron() {}
  @Scheduled({ every: '1h', name: 'bad name!' }) badName() {}
  @loose({ every: '1h', misfire: 'always' }) badMisfire() {}
  @Scheduled({ every: '1h', timeout: '0s' }) noTime() {}
  @Scheduled({ every: '1h', timezone: 'Mars/Olympus' }) badZone() {}
  @Scheduled({ every: '1h', overlap: 'allow', misfire: { catchUp: 'a while' } }) badWindow() {}
}
`,
    });
    expect(loadError(tasks, 'Bad.both')).toBe(
      'Invalid tasks["Bad.both"].every: "5m" (give cron or every, not both)',
    );
    expect(loadError(tasks, 'no-when')).toBe(
      'Invalid tasks["no-when"].cron: undefined (@Scheduled needs cron or every)',
    );
    for (const [id, value] of [
      ['Bad.sevenMinutes', '"7m"'],
      ['Bad.ninetySeconds', '"90s"'],
      ['Bad.notWholeSeconds', '1500'],
      ['Bad.threeDays', '"3d"'],
    ]) {
      expect(loadError(tasks, id!)).toBe(
        `Invalid tasks["${id}"].every: ${value} (a period that divides a minute, an hour or a day evenly, like 15s, 5m, 2h, 1d or 1w)`,
      );
    }
    expect(loadError(tasks, 'Bad.notADuration')).toBe(
      'Invalid tasks["Bad.notADuration"].every: "soon" (a duration like 30s, 5m, 2h or 1d, or whole milliseconds)',
    );
    expect(loadError(tasks, 'Bad.typo')).toMatch(
      /^Invalid tasks\["Bad\.typo"\]\.crn: "0 \* \* \* \*" \(not a @Scheduled option; known: cron, every, name, /,
    );
    expect(loadError(tasks, 'Bad.badCron')).toMatch(
      /^Invalid tasks\["Bad\.badCron"\]\.cron: "61 \* \* \* \*"/,
    );
    // A bad name is reported under the default one, which is still known.
    expect(loadError(tasks, 'bad name!')).toMatch(/^Invalid tasks\["Bad\.badName"\]\.name: "bad name!"/);
    expect(loadError(tasks, 'Bad.badMisfire')).toBe(
      `Invalid tasks["Bad.badMisfire"].misfire: "always" ('skip', 'once' or { catchUp: window like '6h' })`,
    );
    expect(loadError(tasks, 'Bad.noTime')).toMatch(/^Invalid tasks\["Bad\.noTime"\]\.timeout: 0 /);
    expect(loadError(tasks, 'Bad.badZone')).toMatch(
      /^Invalid tasks\["Bad\.badZone"\]\.timezone: "Mars\/Olympus"/,
    );
    expect(loadError(tasks, 'Bad.badWindow')).toMatch(
      /^Invalid tasks\["Bad\.badWindow"\]\.misfire\.catchUp: "a while"/,
    );
  });

  it('refuses a decorated method whose class is not exported, naming the method and the file', async () => {
    await expect(
      discover({
        'hidden.ts': `
class Hidden {
  @Scheduled({ every: '1h' }) secret() {}
}
export const unrelated = Hidden.name;
`,
      }),
    ).rejects.toMatchObject({
      code: 'SUNDIAL_TASK_NOT_EXPORTED',
      message: expect.stringMatching(
        /@Scheduled method secret \(loaded from tasks\/hidden\.ts\) is on a class/,
      ),
    });
  });

  it('refuses @Scheduled on something other than a public method when the file loads', async () => {
    await expect(
      discover({
        'field.ts': `
const loose = Scheduled({ every: '1h' }) as unknown as (value: undefined, context: ClassFieldDecoratorContext) => void;
export class Field {
  @loose job = 1;
}
`,
      }),
    ).rejects.toThrow(
      /^Cannot load task file tasks\/field\.ts: @Scheduled goes on a method, not on the field job/,
    );
  });
});

describe('every as cron', () => {
  it.each([
    [1000, '* * * * * *'],
    [15_000, '*/15 * * * * *'],
    [60_000, '0 * * * * *'],
    [120_000, '0 */2 * * * *'],
    [1_800_000, '0 */30 * * * *'],
    [3_600_000, '0 0 * * * *'],
    [21_600_000, '0 0 */6 * * *'],
    [86_400_000, '0 0 0 * * *'],
    [604_800_000, '0 0 0 * * 0'],
  ])('fires every %i ms as %s', (ms, expression) => {
    expect(cronForEvery(ms)).toBe(expression);
  });

  it.each([0, 500, 1500, 7000, 90_000, 420_000, 5_400_000, 18_000_000, 172_800_000])(
    'cannot fire every %i ms evenly',
    (ms) => {
      expect(cronForEvery(ms)).toBeNull();
    },
  );
});
