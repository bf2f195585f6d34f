import { describe, expect, it } from 'vitest';
import {
  CronSchedule,
  InvalidCronError,
  InvalidOptionError,
  type LoadedTask,
  Schedule,
  type TaskBuilder,
} from '../../src/index.ts';

/** One task, defined by `define`, loaded; UTC unless the definition says otherwise. */
function load(define: (builder: TaskBuilder) => TaskBuilder): LoadedTask {
  const schedule = new Schedule();
  define(schedule
    .call(() => {})
    .name('t')
    .timezone('UTC'));
  return schedule.load()[0]!;
}

const iso = (times: number[]) => times.map((time) => new Date(time).toISOString().replace('.000', ''));
// Wednesday 2026-06-10 10:07:13 UTC.
const FROM = Date.UTC(2026, 5, 10, 10, 7, 13);

describe('fluent frequencies', () => {
  const cases: [string, (t: TaskBuilder) => TaskBuilder, string, string[]][] = [
    ['everySecond', (t) => t.everySecond(), '* * * * * *', ['2026-06-10T10:07:14Z', '2026-06-10T10:07:15Z']],
    [
      'everyTwoSeconds',
      (t) => t.everyTwoSeconds(),
      '*/2 * * * * *',
      ['2026-06-10T10:07:14Z', '2026-06-10T10:07:16Z'],
    ],
    [
      'everyFiveSeconds',
      (t) => t.everyFiveSeconds(),
      '*/5 * * * * *',
      ['2026-06-10T10:07:15Z', '2026-06-10T10:07:20Z'],
    ],
    [
      'everyTenSeconds',
      (t) => t.everyTenSeconds(),
      '*/10 * * * * *',
      ['2026-06-10T10:07:20Z', '2026-06-10T10:07:30Z'],
    ],
    [
      'everyFifteenSeconds',
      (t) => t.everyFifteenSeconds(),
      '*/15 * * * * *',
      ['2026-06-10T10:07:15Z', '2026-06-10T10:07:30Z'],
    ],
    [
      'everyTwentySeconds',
      (t) => t.everyTwentySeconds(),
      '*/20 * * * * *',
      ['2026-06-10T10:07:20Z', '2026-06-10T10:07:40Z'],
    ],
    [
      'everyThirtySeconds',
      (t) => t.everyThirtySeconds(),
      '*/30 * * * * *',
      ['2026-06-10T10:07:30Z', '2026-06-10T10:08:00Z'],
    ],
    ['everyMinute', (t) => t.everyMinute(), '* * * * *', ['2026-06-10T10:08:00Z', '2026-06-10T10:09:00Z']],
    [
      'everyTwoMinutes',
      (t) => t.everyTwoMinutes(),
      '*/2 * * * *',
      ['2026-06-10T10:08:00Z', '2026-06-10T10:10:00Z'],
    ],
    [
      'everyThreeMinutes',
      (t) => t.everyThreeMinutes(),
      '*/3 * * * *',
      ['2026-06-10T10:09:00Z', '2026-06-10T10:12:00Z'],
    ],
    [
      'everyFourMinutes',
      (t) => t.everyFourMinutes(),
      '*/4 * * * *',
      ['2026-06-10T10:08:00Z', '2026-06-10T10:12:00Z'],
    ],
    [
      'everyFiveMinutes',
      (t) => t.everyFiveMinutes(),
      '*/5 * * * *',
      ['2026-06-10T10:10:00Z', '2026-06-10T10:15:00Z'],
    ],
    [
      'everyTenMinutes',
      (t) => t.everyTenMinutes(),
      '*/10 * * * *',
      ['2026-06-10T10:10:00Z', '2026-06-10T10:20:00Z'],
    ],
    [
      'everyFifteenMinutes',
      (t) => t.everyFifteenMinutes(),
      '*/15 * * * *',
      ['2026-06-10T10:15:00Z', '2026-06-10T10:30:00Z'],
    ],
    [
      'everyThirtyMinutes',
      (t) => t.everyThirtyMinutes(),
      '*/30 * * * *',
      ['2026-06-10T10:30:00Z', '2026-06-10T11:00:00Z'],
    ],
    ['hourly', (t) => t.hourly(), '0 * * * *', ['2026-06-10T11:00:00Z', '2026-06-10T12:00:00Z']],
    ['hourlyAt', (t) => t.hourlyAt(17), '17 * * * *', ['2026-06-10T10:17:00Z', '2026-06-10T11:17:00Z']],
    [
      'hourlyAt many',
      (t) => t.hourlyAt(45, 5),
      '5,45 * * * *',
      ['2026-06-10T10:45:00Z', '2026-06-10T11:05:00Z'],
    ],
    [
      'everyOddHour',
      (t) => t.everyOddHour(),
      '0 1-23/2 * * *',
      ['2026-06-10T11:00:00Z', '2026-06-10T13:00:00Z'],
    ],
    [
      'everyTwoHours',
      (t) => t.everyTwoHours(),
      '0 */2 * * *',
      ['2026-06-10T12:00:00Z', '2026-06-10T14:00:00Z'],
    ],
    [
      'everyThreeHours',
      (t) => t.everyThreeHours(15),
      '15 */3 * * *',
      ['2026-06-10T12:15:00Z', '2026-06-10T15:15:00Z'],
    ],
    [
      'everyFourHours',
      (t) => t.everyFourHours(),
      '0 */4 * * *',
      ['2026-06-10T12:00:00Z', '2026-06-10T16:00:00Z'],
    ],
    [
      'everySixHours',
      (t) => t.everySixHours(),
      '0 */6 * * *',
      ['2026-06-10T12:00:00Z', '2026-06-10T18:00:00Z'],
    ],
    ['daily', (t) => t.daily(), '0 0 * * *', ['2026-06-11T00:00:00Z', '2026-06-12T00:00:00Z']],
    ['dailyAt', (t) => t.dailyAt('13:30'), '30 13 * * *', ['2026-06-10T13:30:00Z', '2026-06-11T13:30:00Z']],
    [
      'twiceDaily',
      (t) => t.twiceDaily(1, 13),
      '0 1,13 * * *',
      ['2026-06-10T13:00:00Z', '2026-06-11T01:00:00Z'],
    ],
    [
      'twiceDailyAt',
      (t) => t.twiceDailyAt(1, 13, 15),
      '15 1,13 * * *',
      ['2026-06-10T13:15:00Z', '2026-06-11T01:15:00Z'],
    ],
    [
      'daysOfMonth',
      (t) => t.daily().daysOfMonth(10, 1, 20),
      '0 0 1,10,20 * *',
      ['2026-06-20T00:00:00Z', '2026-07-01T00:00:00Z'],
    ],
    ['weekly', (t) => t.weekly(), '0 0 * * 0', ['2026-06-14T00:00:00Z', '2026-06-21T00:00:00Z']],
    [
      'weeklyOn',
      (t) => t.weeklyOn(1, '08:00'),
      '0 8 * * 1',
      ['2026-06-15T08:00:00Z', '2026-06-22T08:00:00Z'],
    ],
    ['monthly', (t) => t.monthly(), '0 0 1 * *', ['2026-07-01T00:00:00Z', '2026-08-01T00:00:00Z']],
    [
      'monthlyOn',
      (t) => t.monthlyOn(4, '15:00'),
      '0 15 4 * *',
      ['2026-07-04T15:00:00Z', '2026-08-04T15:00:00Z'],
    ],
    [
      'twiceMonthly',
      (t) => t.twiceMonthly(1, 16, '13:00'),
      '0 13 1,16 * *',
      ['2026-06-16T13:00:00Z', '2026-07-01T13:00:00Z'],
    ],
    [
      'lastDayOfMonth',
      (t) => t.lastDayOfMonth('15:00'),
      '0 15 L * *',
      ['2026-06-30T15:00:00Z', '2026-07-31T15:00:00Z'],
    ],
    ['quarterly', (t) => t.quarterly(), '0 0 1 1-12/3 *', ['2026-07-01T00:00:00Z', '2026-10-01T00:00:00Z']],
    [
      'quarterlyOn',
      (t) => t.quarterlyOn(4, '14:00'),
      '0 14 4 1-12/3 *',
      ['2026-07-04T14:00:00Z', '2026-10-04T14:00:00Z'],
    ],
    ['yearly', (t) => t.yearly(), '0 0 1 1 *', ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z']],
    [
      'yearlyOn',
      (t) => t.yearlyOn(6, 1, '17:00'),
      '0 17 1 6 *',
      ['2027-06-01T17:00:00Z', '2028-06-01T17:00:00Z'],
    ],
    [
      'weekdays',
      (t) => t.dailyAt('09:00').weekdays(),
      '0 9 * * 1-5',
      ['2026-06-11T09:00:00Z', '2026-06-12T09:00:00Z'],
    ],
    [
      'weekends',
      (t) => t.dailyAt('09:00').weekends(),
      '0 9 * * 0,6',
      ['2026-06-13T09:00:00Z', '2026-06-14T09:00:00Z'],
    ],
    ['sundays', (t) => t.daily().sundays(), '0 0 * * 0', ['2026-06-14T00:00:00Z', '2026-06-21T00:00:00Z']],
    ['mondays', (t) => t.daily().mondays(), '0 0 * * 1', ['2026-06-15T00:00:00Z', '2026-06-22T00:00:00Z']],
    ['tuesdays', (t) => t.daily().tuesdays(), '0 0 * * 2', ['2026-06-16T00:00:00Z', '2026-06-23T00:00:00Z']],
    [
      'wednesdays',
      (t) => t.daily().wednesdays(),
      '0 0 * * 3',
      ['2026-06-17T00:00:00Z', '2026-06-24T00:00:00Z'],
    ],
    [
      'thursdays',
      (t) => t.daily().thursdays(),
      '0 0 * * 4',
      ['2026-06-11T00:00:00Z', '2026-06-18T00:00:00Z'],
    ],
    ['fridays', (t) => t.daily().fridays(), '0 0 * * 5', ['2026-06-12T00:00:00Z', '2026-06-19T00:00:00Z']],
    [
      'saturdays',
      (t) => t.daily().saturdays(),
      '0 0 * * 6',
      ['2026-06-13T00:00:00Z', '2026-06-20T00:00:00Z'],
    ],
    ['days', (t) => t.daily().days(5, 1), '0 0 * * 1,5', ['2026-06-12T00:00:00Z', '2026-06-15T00:00:00Z']],
    [
      'cron',
      (t) => t.cron('*/20 9-17 * * *'),
      '*/20 9-17 * * *',
      ['2026-06-10T10:20:00Z', '2026-06-10T10:40:00Z'],
    ],
    [
      'cron with seconds',
      (t) => t.cron('30 0 12 * * *'),
      '30 0 12 * * *',
      ['2026-06-10T12:00:30Z', '2026-06-11T12:00:30Z'],
    ],
    [
      'cron nickname',
      (t) => t.cron('@weekly'),
      '0 0 * * 0',
      ['2026-06-14T00:00:00Z', '2026-06-21T00:00:00Z'],
    ],
    [
      'cron L W #',
      (t) => t.cron('0 9 * * 1#2'),
      '0 9 * * 1#2',
      ['2026-07-13T09:00:00Z', '2026-08-10T09:00:00Z'],
    ],
    [
      'cron then days',
      (t) => t.cron('@daily').weekends(),
      '0 0 * * 0,6',
      ['2026-06-13T00:00:00Z', '2026-06-14T00:00:00Z'],
    ],
  ];

  it.each(cases)('%s', (_name, define, expression, next) => {
    const task = load(define);
    expect(task.definition.schedule.expression).toBe(expression);
    expect(iso(task.cron.upcoming(2, FROM))).toEqual(next);
  });

  it('runs only inside between windows, and never inside unlessBetween ones, across midnight too', () => {
    const office = load((t) => t.everyThirtyMinutes().weekdays().between('08:00', '17:00'));
    // From Friday 16:45 the next runs are 17:00 that day, then Monday 08:00.
    expect(iso(office.cron.upcoming(3, Date.UTC(2026, 5, 12, 16, 45)))).toEqual([
      '2026-06-12T17:00:00Z',
      '2026-06-15T08:00:00Z',
      '2026-06-15T08:30:00Z',
    ]);
    const night = load((t) => t.hourly().between('22:00', '02:00'));
    expect(iso(night.cron.upcoming(5, Date.UTC(2026, 5, 10, 12)))).toEqual([
      '2026-06-10T22:00:00Z',
      '2026-06-10T23:00:00Z',
      '2026-06-11T00:00:00Z',
      '2026-06-11T01:00:00Z',
      '2026-06-11T02:00:00Z',
    ]);
    const quiet = load((t) => t.everyMinute().unlessBetween('23:00', '04:00'));
    expect(iso(quiet.cron.upcoming(2, Date.UTC(2026, 5, 10, 22, 58, 30)))).toEqual([
      '2026-06-10T22:59:00Z',
      '2026-06-11T04:01:00Z',
    ]);
  });

  it('reads windows in the task’s time zone', () => {
    const rome = load((t) => t.hourly().between('09:00', '10:00').timezone('Europe/Rome'));
    // June: Rome is UTC+2.
    expect(iso(rome.cron.upcoming(2, FROM))).toEqual(['2026-06-11T07:00:00Z', '2026-06-11T08:00:00Z']);
  });

  it('never runs when its windows leave no time at all', () => {
    const never = new CronSchedule({
      expression: '* * * * *',
      timezone: 'UTC',
      windows: [
        { from: 8 * 60, to: 9 * 60, exclude: false },
        { from: 7 * 60, to: 10 * 60, exclude: true },
      ],
    });
    expect(never.next(FROM)).toBeNull();
  });
});

describe('human-readable frequency', () => {
  it.each([
    [
      (t: TaskBuilder) => t.everyFiveMinutes().weekdays().between('08:00', '17:00').timezone('Europe/Rome'),
      'every 5 minutes, Monday to Friday, 08:00–17:00 (Europe/Rome)',
    ],
    [(t: TaskBuilder) => t.dailyAt('02:30'), 'at 02:30 (UTC)'],
    [(t: TaskBuilder) => t.lastDayOfMonth('15:00'), 'at 15:00, on the last day of the month (UTC)'],
    [(t: TaskBuilder) => t.everyTenSeconds(), 'every 10 seconds (UTC)'],
    [(t: TaskBuilder) => t.hourly().unlessBetween('23:00', '04:00'), 'every hour, except 23:00–04:00 (UTC)'],
  ])('%#: %s', (define, words) => {
    expect(load(define).frequency).toBe(words);
  });
});

describe('refusing bad definitions at load time, naming the task, the field and the value', () => {
  function refusal(define: (schedule: Schedule) => void): InvalidOptionError {
    const schedule = new Schedule();
    define(schedule);
    try {
      schedule.load();
    } catch (error) {
      if (error instanceof InvalidOptionError) return error;
      throw error;
    }
    throw new Error('expected the schedule to be refused');
  }

  it.each([
    [
      'a cron with a minute of 61',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('sync')
          .cron('61 * * * *'),
      'tasks["sync"].cron',
      '61 * * * *',
      InvalidCronError,
    ],
    [
      'a cron with 3 fields',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('sync')
          .cron('* * *'),
      'tasks["sync"].cron',
      '* * *',
      InvalidCronError,
    ],
    [
      'an unknown time zone',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('sync')
          .daily()
          .timezone('Mars/Olympus'),
      'tasks["sync"].timezone',
      'Mars/Olympus',
      InvalidCronError,
    ],
    [
      'a time of 25:00',
      (s: Schedule) => s.command('backup').dailyAt('25:00'),
      'tasks["backup"].dailyAt',
      '25:00',
      InvalidOptionError,
    ],
    [
      'an hourlyAt minute of 60',
      (s: Schedule) => s.job('mail', 'digest').hourlyAt(60),
      'tasks["job:mail:digest"].hourlyAt',
      60,
      InvalidOptionError,
    ],
    [
      'a day of week 7',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('x')
          .days(7),
      'tasks["x"].days',
      7,
      InvalidOptionError,
    ],
    [
      'a between without times',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('x')
          .between('morning', '17:00'),
      'tasks["x"].between',
      ['morning', '17:00'],
      InvalidOptionError,
    ],
    [
      'a function task without a name',
      (s: Schedule) => s.call(() => {}).everyMinute(),
      'tasks["task #1 (call)"].name',
      undefined,
      InvalidOptionError,
    ],
    [
      'a bad overlap policy',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('x')
          .overlap('queue' as never),
      'tasks["x"].overlap',
      'queue',
      InvalidOptionError,
    ],
    [
      'a ping that is not a URL',
      (s: Schedule) => s.ping('example.com/health'),
      'tasks["ping:example.com/health"].ping',
      'example.com/health',
      InvalidOptionError,
    ],
    [
      'a job task option the scheduler owns',
      (s: Schedule) => s.job('mail', 'digest', null, { dedupeKey: 'x' }).daily(),
      'tasks["job:mail:digest"].job.options.dedupeKey',
      'x',
      InvalidOptionError,
    ],
    [
      'a bad job task option',
      (s: Schedule) => s.job('mail', 'digest', null, { attempts: 0 }).daily(),
      'tasks["job:mail:digest"].job.options.attempts',
      0,
      InvalidOptionError,
    ],
    [
      'a job task payload JSON cannot hold',
      (s: Schedule) => s.job('mail', 'digest', { when: 10n }).daily(),
      'tasks["job:mail:digest"].job.payload.when',
      10n,
      InvalidOptionError,
    ],
    [
      'a ping method that is not GET, POST or HEAD',
      (s: Schedule) => s.ping('https://example.com/h', { method: 'DELETE' as never }).daily(),
      'tasks["ping:https://example.com/h"].ping.method',
      'DELETE',
      InvalidOptionError,
    ],
    [
      'a command env value that is not a string',
      (s: Schedule) =>
        s
          .command('backup', [], { env: { RETRIES: 3 as never } })
          .name('b')
          .daily(),
      'tasks["b"].command.env',
      { RETRIES: 3 },
      InvalidOptionError,
    ],
    [
      'an empty command cwd',
      (s: Schedule) => s.command('backup', [], { cwd: '' }).name('b').daily(),
      'tasks["b"].command.cwd',
      '',
      InvalidOptionError,
    ],
    [
      'a negative jitter',
      (s: Schedule) =>
        s
          .call(() => {})
          .name('x')
          .withJitter(-5),
      'tasks["x"].jitter',
      -5,
      InvalidOptionError,
    ],
  ])('%s', (_title, define, field, value, type) => {
    const error = refusal(define);
    expect(error).toBeInstanceOf(type);
    expect(error.field).toBe(field);
    expect(error.value).toEqual(value);
    expect(error.message).toContain(field);
    if (type === InvalidCronError) expect(error.code).toBe('SUNDIAL_INVALID_CRON');
  });

  it.each([
    ['a range with #', '0 9 * * 1-5#2'],
    ['a step with #', '0 9 * * */2#1'],
    ['a week number past 5 with #', '0 9 * * 1#6'],
    ['a non-breaking space between fields', '0\u00A09 * * *'],
    ['a line separator between fields', '0 9\u2028* * *'],
    ['a paragraph separator between fields', '0 9 * *\u2029*'],
    ['a newline between fields', '0 9 *\n* *'],
    ['a + outside the day-of-week field', '0 9 +1 * *'],
  ])('refuses a cron with %s', (_title, expression) => {
    const error = refusal((s) =>
      s
        .call(() => {})
        .name('x')
        .cron(expression),
    );
    expect(error).toBeInstanceOf(InvalidCronError);
    expect([error.field, error.value, error.code]).toEqual([
      'tasks["x"].cron',
      expression,
      'SUNDIAL_INVALID_CRON',
    ]);
  });

  it('reads # as the nth weekday on one day only, and caps a long expression in its error', () => {
    const schedule = new Schedule();
    schedule
      .call(() => {})
      .name('second-monday')
      .cron('0 9 * * 1#2');
    const [task] = schedule.load();
    // The second Monday of January 2026 is the 12th.
    expect(new Date(task!.cron.next(Date.UTC(2026, 0, 1))!).getDate()).toBe(12);
    // What croner reads right is still taken: the last Friday, the last Friday and Saturday, and
    // the first of the month only when it is a Monday.
    for (const expression of [
      '0 9 * * 5#L',
      '0 9 * * FRI#L',
      '0 9 * * 5-6#L',
      '0 12 1 * +MON',
      '0 9 * * 1#2,3#4',
    ]) {
      const more = new Schedule();
      more
        .call(() => {})
        .name('x')
        .cron(expression);
      expect(() => more.load(), expression).not.toThrow();
    }
    const long = `0 9 * * ${'1,'.repeat(5000)}1`;
    const error = refusal((s) =>
      s
        .call(() => {})
        .name('x')
        .cron(long),
    );
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toContain('at most 256 characters');
  });

  it.each([
    ['LD_PRELOAD', '/tmp/evil.so'],
    ['LD_AUDIT', '/tmp/evil.so'],
    ['LD_LIBRARY_PATH', '/tmp/libs'],
    ['ld_preload', '/tmp/evil.so'],
    ['Ld_Audit', '/tmp/evil.so'],
    ['DYLD_INSERT_LIBRARIES', '/tmp/evil.dylib'],
    ['NODE_OPTIONS', '--require /tmp/evil.js'],
    ['BASH_ENV', '/tmp/evil.sh'],
    ['ENV', '/tmp/evil.sh'],
    ['BASH_FUNC_pg_dump%%', '() { id; }'],
    ['SHELLOPTS', 'xtrace'],
    ['PERL5OPT', '-Mevil'],
    ['RUBYOPT', '-revil'],
    ['PYTHONSTARTUP', '/tmp/evil.py'],
    ['JAVA_TOOL_OPTIONS', '-javaagent:/tmp/evil.jar'],
    ['GCONV_PATH', '/tmp/gconv'],
    ['OPENSSL_CONF', '/tmp/evil.cnf'],
    ['OPENSSL_MODULES', '/tmp/mods'],
    ['KRB5_CONFIG', '/tmp/krb5.conf'],
    ['LUA_INIT', '@/tmp/evil.lua'],
    ['LUA_INIT_5_4', '@/tmp/evil.lua'],
    ['PHPRC', '/tmp/php.ini'],
    ['PHP_INI_SCAN_DIR', '/tmp/ini.d'],
  ])('refuses a command task that sets %s, naming the task, the variable and its value', (name, value) => {
    const error = refusal((s) =>
      s
        .command('pg_dump', ['app'], { env: { HOME: '/srv', [name]: value } })
        .name('backup')
        .daily(),
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.code).toBe('SUNDIAL_INVALID_OPTION');
    expect(error.field).toBe(
      /%/.test(name)
        ? `tasks["backup"].command.env[${JSON.stringify(name)}]`
        : `tasks["backup"].command.env.${name}`,
    );
    expect(error.value).toBe(value);
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).toContain(`${name.toUpperCase()} makes programs load or run code`);
  });

  it('refuses an env name holding "=", which would set another variable', () => {
    const error = refusal((s) =>
      s
        .command('pg_dump', [], { env: { 'LD_PRELOAD=/tmp/evil.so:': 'x' } })
        .name('backup')
        .daily(),
    );
    expect(error.field).toBe('tasks["backup"].command.env["LD_PRELOAD=/tmp/evil.so:"]');
    expect(error.message).toContain('not a variable name');
  });

  it('accepts PATH, module paths and IFS at definition (the runner refuses the paths with an allowlist)', () => {
    const schedule = new Schedule();
    schedule
      .command('python3', ['job.py'], { env: { PATH: '/opt/bin', PYTHONPATH: '/srv/app', IFS: ':' } })
      .name('py')
      .daily();
    expect(schedule.load()[0]!.definition.action).toMatchObject({
      env: { PATH: '/opt/bin', PYTHONPATH: '/srv/app', IFS: ':' },
    });
  });

  it('says once what a bad job task option takes', () => {
    const error = refusal((s) => s.job('mail', 'digest', null, { attempts: 0 }).daily());
    expect(error.message).toMatch(
      /^Invalid tasks\["job:mail:digest"\]\.job\.options\.attempts: 0 \([^(]*\)$/,
    );
  });

  it('masks secrets in an id derived from a command line, with a hash of the real line', () => {
    const schedule = new Schedule();
    schedule.command('curl', ['-H', 'Authorization: Bearer s3cretT0kenValue', 'https://x.test']).daily();
    schedule.command('backup', ['--key', 'k-123456'], { env: { KEY: 'k-123456' } }).daily();
    schedule.ping('https://ops:hunter22@x.test/ping').daily();
    expect(schedule.load().map((task) => task.definition.id)).toEqual([
      expect.stringMatching(/^curl -H Authorization: Bearer \[masked\] https:\/\/x\.test #[0-9a-f]{6}$/),
      expect.stringMatching(/^backup --key \[masked\] #[0-9a-f]{6}$/),
      expect.stringMatching(/^ping:https:\/\/ops:\[masked\]@x\.test\/ping #[0-9a-f]{6}$/),
    ]);
  });

  it('refuses a catch-up that the default overlap policy would collapse into one run', () => {
    const schedule = new Schedule();
    schedule.job('q', 'x').everyMinute().catchUp({ window: 600_000 });
    expect(() => schedule.load()).toThrow(/Invalid tasks\["job:q:x"\]\.catchUp: 600000 \(.*allowOverlapping/);
  });

  it('refuses hooks on a job task, whose run is its job and never reaches the task runner', () => {
    for (const hook of ['before', 'onSuccess', 'onFailure', 'after'] as const) {
      const schedule = new Schedule();
      schedule
        .job('q', 'x')
        .daily()
        [hook](() => {});
      expect(() => schedule.load()).toThrow(
        new RegExp(`Invalid tasks\\["job:q:x"\\]\\.${hook}: .*a call, command or ping task .*job events`),
      );
    }
    const fine = new Schedule();
    fine
      .call(() => {})
      .name('c')
      .daily()
      .before(() => {})
      .after(() => {});
    expect(fine.load()).toHaveLength(1);
  });

  it('refuses a schedule that never runs', () => {
    for (const define of [
      (s: Schedule) => s.job('q', 'x').dailyAt('03:00').between('08:00', '17:00'),
      (s: Schedule) => s.job('q', 'x').cron('0 0 30 2 *'),
    ]) {
      const schedule = new Schedule();
      define(schedule);
      expect(() => schedule.load()).toThrow(/Invalid tasks\["job:q:x"\]\.cron: .* \(never runs/);
    }
  });

  it('refuses two tasks with one name', () => {
    const schedule = new Schedule();
    schedule
      .call(() => {})
      .name('same')
      .daily();
    schedule.command('ls').name('same').hourly();
    expect(() => schedule.load()).toThrow('Two tasks are named "same"');
  });

  it('derives ids where it can and keeps what was set', () => {
    const schedule = new Schedule();
    schedule.command('pg_dump', ['-Fc', 'app']).dailyAt('02:30').tags(['db']).description('nightly dump');
    schedule
      .job('mail', 'digest', { kind: 'weekly' })
      .weeklyOn(1, '08:00')
      .withJitter(500)
      .allowOverlapping();
    schedule
      .ping('http://127.0.0.1:9/health')
      .everyMinute()
      .allowOverlapping()
      .catchUp({ window: 3_600_000 });
    const [dump, digest, ping] = schedule.load().map((task) => task.definition);
    expect(dump).toMatchObject({
      id: 'pg_dump -Fc app',
      tags: ['db'],
      description: 'nightly dump',
      overlap: 'skip',
    });
    expect(dump!.action).toMatchObject({
      kind: 'command',
      command: 'pg_dump',
      args: ['-Fc', 'app'],
      shell: false,
    });
    expect(digest).toMatchObject({
      id: 'job:mail:digest',
      jitterMs: 500,
      overlap: 'allow',
      misfire: { policy: 'skip' },
    });
    expect(ping).toMatchObject({
      id: 'ping:http://127.0.0.1:9/health',
      misfire: { policy: 'catchUp', windowMs: 3_600_000 },
    });
  });
});
