/**
 * Secrets must not leak: a corpus of secret shapes (test/fixtures/mask-corpus.ts), each around a
 * random value of its own, is pushed through every exit Sundial has, on every engine, and then each
 * value is searched for in what came out: events, hooks, stored jobs, the CLI's output and the raw
 * storage (the SQLite file and its WAL; every row of the test's PostgreSQL schema; a private Redis's
 * AOF, which logs every write ever made, and every value under the test's prefix on a Cluster).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSundial,
  type Job,
  Schedule,
  type Sundial,
  type SundialEvents,
  type TaskRunInfo,
} from '../../src/index.ts';
import { APP_MASK, defineCorpusTasks, type Planted, plantSecrets } from '../fixtures/mask-corpus.ts';
import { storeFromEnv } from '../fixtures/store-from-env.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { dropNamespace, type Engine, enginesUnderTest, killAll, serverUrl } from './children.ts';
import { type PrivateRedis, startPrivateRedis } from './private-redis.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SUNDIAL = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const STORE_FROM_ENV = fileURLToPath(new URL('../fixtures/store-from-env.ts', import.meta.url));
const CORPUS = fileURLToPath(new URL('../fixtures/mask-corpus.ts', import.meta.url));

const EVENT_NAMES: (keyof SundialEvents)[] = [
  'job.added',
  'job.started',
  'job.completed',
  'job.failed',
  'job.retrying',
  'job.dead',
  'job.interrupted',
  'job.stalled',
  'task.fired',
  'task.skipped',
  'task.starting',
  'task.finished',
  'task.failed',
  'task.retrying',
  'error',
];

// Every ping the tasks send gets a 500 whose body echoes what it was asked (the URL, with its secrets).
const server = createServer((request, response) => {
  response.statusCode = 500;
  response.end(`nothing at ${request.url}\n`);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const engines = await enginesUnderTest();

/** Every string in a value, own non-enumerable ones (an error's message, stack, cause) included. */
function allText(value: unknown, seen = new WeakSet<object>()): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || seen.has(value)) return String(value);
  seen.add(value);
  return Object.getOwnPropertyNames(value)
    .map((key) => `${key}: ${allText((value as Record<string, unknown>)[key], seen)}`)
    .join('\n');
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe.each(engines)('secrets planted everywhere come out masked (%s)', (engine) => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string> = {};
  let redis: PrivateRedis | null = null;
  let sundial: Sundial;
  let corpus: Planted[] = [];
  /** A secret that only a bad config's ping URL holds (the CLI's error line echoes it). */
  let configSecret = '';
  const events: { name: string; event: unknown }[] = [];
  const hooks: TaskRunInfo[] = [];
  const cli: Record<string, CliRun> = {};
  let appJobs: Job[] = [];
  let taskJobs: Job[] = [];

  /** The planted secrets found in `text`, by shape (an empty list when none leaked). */
  const leaks = (text: string | Buffer) =>
    corpus.filter((entry) => text.includes(entry.secret)).map((entry) => entry.kind);

  beforeAll(async () => {
    dir = tempDir();
    const namespace = `sundial_mask_${Math.random().toString(36).slice(2, 10)}`;
    if (engine === 'sqlite') env = { SUNDIAL_STORE: 'sqlite', SUNDIAL_DB: join(dir.path, 'app.db') };
    else if (engine === 'redis') {
      // A server of its own, so its AOF holds this test's writes and nobody else's.
      redis = await startPrivateRedis();
      env = { SUNDIAL_STORE: 'redis', SUNDIAL_URL: redis.url, SUNDIAL_NAMESPACE: namespace };
    } else env = { SUNDIAL_STORE: engine, SUNDIAL_URL: serverUrl(engine), SUNDIAL_NAMESPACE: namespace };

    corpus = plantSecrets(port);
    const corpusJson = join(dir.path, 'corpus.json');
    const corpusText = join(dir.path, 'corpus.txt');
    writeFileSync(corpusJson, JSON.stringify(corpus));
    writeFileSync(corpusText, `${corpus.map((entry) => entry.text).join('\n')}\n`);
    writeConfigs(dir.path, corpusJson, corpusText);

    sundial = createSundial({ store: storeFromEnv(env), mask: APP_MASK });
    for (const name of EVENT_NAMES) sundial.on(name, (event) => void events.push({ name, event }));

    // A job whose handler throws the whole corpus (message and stack), retried once; one that
    // throws a plain object holding it.
    const whole = corpus.map((entry) => entry.text).join('\n');
    const worker = sundial.worker('app', {
      leak: () => {
        throw new Error(`the import failed:\n${whole}`);
      },
      'leak-object': () => {
        throw { detail: whole };
      },
    });
    const app = sundial.queue('app');
    await app.add('leak', null, { attempts: 2, backoff: 'none' });
    await app.add('leak-object', null, { attempts: 1 });

    const schedule = new Schedule();
    defineCorpusTasks(schedule, corpus, corpusText, (run) => void hooks.push(run));
    const taskWorker = sundial.taskWorker(schedule);
    const scheduler = sundial.scheduler(schedule);
    await scheduler.start();
    for (const id of scheduler.taskIds) if (id !== 'checker') await scheduler.trigger(id);
    const runs = scheduler.taskIds.length - 1;
    await waitFor(
      async () => {
        const dead = await app.listJobs('dead');
        const finished = [
          ...(await sundial.queue('sundial.tasks').listJobs('completed', { limit: 1000 })),
          ...(await sundial.queue('sundial.tasks').listJobs('dead', { limit: 1000 })),
        ];
        return dead.length === 2 && finished.length === runs;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'every run to finish' },
    );
    await waitFor(() => events.some(({ name }) => name === 'error'), { message: 'the checker’s error' });
    // Nothing of ours runs while the CLI works on the store (`sundial test` runs a task itself).
    await Promise.all([scheduler.close(), worker.close(), taskWorker.close()]);
    appJobs = await app.listJobs(undefined, { limit: 1000 });
    taskJobs = await sundial.queue('sundial.tasks').listJobs(undefined, { limit: 1000 });

    const leakJob = appJobs.find((job) => job.name === 'leak')!;
    const printerJob = taskJobs.find((job) => job.origin?.schedule === 'printer')!;
    const commands: Record<string, string[]> = {
      'jobs app': ['jobs', 'app'],
      'jobs app --json': ['--json', 'jobs', 'app'],
      'jobs sundial.tasks': ['jobs', 'sundial.tasks', '--limit', '1000'],
      'jobs sundial.tasks --json': ['--json', 'jobs', 'sundial.tasks', '--limit', '1000'],
      'job app': ['job', 'app', leakJob.id],
      'job sundial.tasks': ['job', 'sundial.tasks', printerJob.id],
      list: ['list'],
      'list --json': ['--json', 'list'],
      'test printer': ['test', 'printer'],
      'list with a bad config': ['list', '--config', 'bad.config.ts'],
    };
    for (const [name, args] of Object.entries(commands)) {
      const result = spawnSync(process.execPath, [CLI, ...args], {
        cwd: dir.path,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      cli[name] = { code: result.status, stdout: result.stdout, stderr: result.stderr };
    }
  }, 240_000);

  afterAll(async () => {
    killAll();
    await sundial?.close();
    if (engine !== 'redis') await dropNamespace(engine, env);
    redis?.stop();
    dir?.cleanup();
  });

  /** The config the CLI loads: the same store, rules and tasks; and one whose ping URL is refused. */
  function writeConfigs(folder: string, corpusJson: string, corpusText: string): void {
    writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
    const head = `import { readFileSync } from 'node:fs';
import { defineConfig } from ${JSON.stringify(SUNDIAL)};
import { storeFromEnv } from ${JSON.stringify(STORE_FROM_ENV)};
import { APP_MASK, defineCorpusTasks } from ${JSON.stringify(CORPUS)};
`;
    writeFileSync(
      join(folder, 'sundial.config.ts'),
      `${head}
const corpus = JSON.parse(readFileSync(${JSON.stringify(corpusJson)}, 'utf8'));
export default defineConfig({
  store: storeFromEnv(process.env),
  mask: APP_MASK,
  schedule: (schedule) => defineCorpusTasks(schedule, corpus, ${JSON.stringify(corpusText)}),
});
`,
    );
    configSecret = `cfg${Math.random().toString(36).slice(2, 12)}`;
    writeFileSync(
      join(folder, 'bad.config.ts'),
      `${head}
export default defineConfig({
  store: storeFromEnv(process.env),
  mask: APP_MASK,
  schedule: (schedule) => schedule.ping('ftp://admin:${configSecret}@files.example.com/x').hourly(),
});
`,
    );
  }

  it('stores none of them in jobs: errors and stacks of every attempt, history, task output and results', () => {
    const stored = JSON.stringify([...appJobs, ...taskJobs]);
    expect(leaks(stored)).toEqual([]);
    const leak = appJobs.find((job) => job.name === 'leak')!;
    expect(leak).toMatchObject({ state: 'dead', attempt: 2 });
    expect(leak.history.map((record) => record.error?.message)).toEqual([
      expect.stringContaining('connecting with password=[masked] now'),
      expect.stringContaining('connecting with password=[masked] now'),
    ]);
    expect(leak.error!.stack).toContain('pg_dump --password [masked] -Fc app');
    const printer = taskJobs.find((job) => job.origin?.schedule === 'printer')!;
    expect(printer.error!.message).toContain('ticket [masked] issued'); // the app's RegExp rule
    expect(printer.error!.message).toContain('opened [masked] today'); // the app's function rule
    expect(printer.error!.message).toContain('X-Acme-Ticket: [masked]'); // the app's key
  });

  it('gives every task whose text held a secret a masked id of its own', async () => {
    const records = await sundial.store.listSchedules();
    expect(leaks(JSON.stringify(records))).toEqual([]);
    // One echo task per shape, one ping per shape that fits a URL, the printer and the checker.
    expect(records).toHaveLength(corpus.length + corpus.filter((entry) => entry.url).length + 2);
    expect(records.map((record) => record.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^echo pg_dump --password \[masked\] -Fc app #[0-9a-f]{6}$/),
      ]),
    );
  });

  it('reports none of them in events (job and task events, the error event) or to hooks', () => {
    expect(leaks(allText(events))).toEqual([]);
    expect(new Set(events.map(({ name }) => name))).toEqual(
      new Set(
        [...EVENT_NAMES].filter(
          (name) => !['job.interrupted', 'job.stalled', 'task.retrying'].includes(name),
        ),
      ),
    );
    const error = events.find(({ name }) => name === 'error')!.event as SundialEvents['error'];
    expect((error.error as Error).message).toContain('connecting with password=[masked] now');

    expect(leaks(allText(hooks))).toEqual([]);
    const failures = hooks.filter((run) => run.ok === false);
    expect(failures.length).toBeGreaterThan(corpus.filter((entry) => entry.url).length);
    expect(failures.find((run) => run.taskId === 'printer')!.output).toContain('ticket [masked] issued');
    expect(failures.map((run) => run.error?.message).join('\n')).toContain('[masked]');
  });

  it('prints none of them from the CLI, as tables, as JSON or in its error line', () => {
    for (const [name, run] of Object.entries(cli)) {
      expect({ name, leaks: leaks(run.stdout + run.stderr) }).toEqual({ name, leaks: [] });
    }
    expect(cli['jobs app']!.stdout).toContain('password=[masked]');
    expect(JSON.parse(cli['jobs sundial.tasks --json']!.stdout).jobs).toHaveLength(taskJobs.length);
    expect(cli['job sundial.tasks']!.stdout).toContain('X-Acme-Ticket: [masked]');
    expect(cli.list!.stdout).toMatch(/^echo pg_dump --password \[masked\] -Fc app #[0-9a-f]{6}\s/m);
    expect(JSON.parse(cli['list --json']!.stdout)).toHaveLength(taskJobs.length + 1);
    expect(cli['test printer']).toMatchObject({
      code: 1,
      stdout: expect.stringContaining('ticket [masked] issued'),
    });
    const bad = cli['list with a bad config']!;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ftp://admin:[masked]@files.example.com/x');
    expect(bad.stderr).not.toContain(configSecret);
  });

  it('leaves none of them in the raw storage', async () => {
    const sources = await rawStorage(engine, env, redis);
    for (const [source, raw] of Object.entries(sources)) {
      // The search can see stored text: what surrounds a masked secret is there.
      expect({ source, seen: raw.includes('connecting with password=[masked] now') }).toEqual({
        source,
        seen: true,
      });
      expect({ source, leaks: leaks(raw) }).toEqual({ source, leaks: [] });
      expect(raw.includes(configSecret)).toBe(false);
    }
  });
});

/**
 * Everything the store holds, as bytes or text to search: SQLite's database file and WAL as they are
 * on disk; every row of every table in the PostgreSQL schema (read through the driver: PostgreSQL
 * compresses long values on disk, where a search of its files would miss them); a single Redis's
 * AOF files, which log every write it ever applied (key names and values, uncompressed), plus every
 * key and value under the prefix; on a Cluster every key and value under the prefix on each primary.
 */
async function rawStorage(
  engine: Engine,
  env: Record<string, string>,
  redis: PrivateRedis | null,
): Promise<Record<string, Buffer>> {
  if (engine === 'sqlite') {
    const files = [env.SUNDIAL_DB!, `${env.SUNDIAL_DB}-wal`].filter((file) => existsSync(file));
    return { 'the database file and its WAL': Buffer.concat(files.map((file) => readFileSync(file))) };
  }
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: env.SUNDIAL_URL });
    await client.connect();
    try {
      const schema = env.SUNDIAL_NAMESPACE!;
      const { rows: tables } = await client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      );
      const parts: string[] = [];
      for (const { table_name: table } of tables) {
        const { rows } = await client.query<{ row: string }>(
          `SELECT t::text AS row FROM "${schema}"."${table}" t`,
        );
        parts.push(table, ...rows.map((row) => row.row));
      }
      return { 'every row of the schema': Buffer.from(parts.join('\n')) };
    } finally {
      await client.end();
    }
  }
  const { Redis } = await import('ioredis');
  const sources: Record<string, Buffer> = {};
  if (redis) {
    const aofDir = join(redis.dir, 'appendonlydir');
    sources['the AOF'] = Buffer.concat(readdirSync(aofDir).map((file) => readFileSync(join(aofDir, file))));
  }
  const parts: Buffer[] = [];
  for (const url of env.SUNDIAL_URL!.split(',')) {
    const client = new Redis(url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `*${env.SUNDIAL_NAMESPACE}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) parts.push(Buffer.from(`${key}\n${await redisValue(client, key)}\n`));
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
  sources['every key and value under the prefix'] = Buffer.concat(parts);
  return sources;
}

async function redisValue(client: import('ioredis').Redis, key: string): Promise<string> {
  switch (await client.type(key)) {
    case 'string':
      return (await client.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await client.hgetall(key));
    case 'set':
      return (await client.smembers(key)).join('\n');
    case 'zset':
      return (await client.zrange(key, '0', '-1')).join('\n');
    case 'list':
      return (await client.lrange(key, '0', '-1')).join('\n');
    case 'stream':
      return JSON.stringify(await client.xrange(key, '-', '+'));
    default:
      return '';
  }
}
