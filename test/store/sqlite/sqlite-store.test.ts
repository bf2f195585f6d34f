import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  type NewJob,
  SCHEDULES_CHANNEL,
  SqliteStore,
  SundialError,
} from '../../../src/index.ts';
import { Checkpointer } from '../../../src/store/sqlite/checkpointer.ts';
import { sleep, tempDir, waitFor } from '../../helpers.ts';

const job = (n: number): NewJob => ({
  queue: 'q',
  name: 'n',
  payload: JSON.stringify({ n, padding: 'x'.repeat(200) }),
  state: 'waiting',
  priority: 0,
  runAt: 0,
  maxAttempts: 1,
  backoff: { type: 'none' },
  timeout: null,
  dedupeKey: null,
  maxStalls: 1,
  origin: null,
  createdAt: 0,
});

describe('SQLite engine specifics', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  const stores: SqliteStore[] = [];

  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, 'engine.db');
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    dir.cleanup();
  });

  function open(options: ConstructorParameters<typeof SqliteStore>[0] = {}) {
    const store = new SqliteStore({ path, ...options });
    stores.push(store);
    store.open();
    return store;
  }

  it('waits for another connection’s write lock without freezing the event loop', async () => {
    const store = open();
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    setTimeout(() => other.exec('COMMIT'), 200);
    const added = await store.addJobs([job(1)]);
    clearInterval(ticker);
    other.close();
    expect(added[0]!.duplicate).toBe(false);
    // Timers kept firing while the add waited for the lock.
    expect(ticks).toBeGreaterThan(10);
  });

  it('gives up after busyTimeoutMs with a clear error, and stores nothing', async () => {
    const store = open({ busyTimeoutMs: 100 });
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    const error = await store.addJobs([job(1)]).catch((e: unknown) => e);
    other.exec('COMMIT');
    other.close();
    expect(error).toBeInstanceOf(SundialError);
    expect((error as SundialError).code).toBe('SUNDIAL_STORE_BUSY');
    expect(await store.countJobs('q')).toMatchObject({ waiting: 0 });
  });

  it('checkpoints the WAL into the database file in the background', async () => {
    const store = open({ checkpointIntervalMs: 50 });
    const before = statSync(path).size;
    await store.addJobs(Array.from({ length: 3000 }, (_, i) => job(i)));
    // Nothing of ours checkpoints inside commits any more; the file grows once the thread copies.
    await waitFor(() => statSync(path).size > before + 500_000, { timeoutMs: 5000, message: 'a checkpoint' });
  });

  it('lets SQLite checkpoint inside commits when background checkpoints are off', async () => {
    const store = open({ checkpointIntervalMs: 0 });
    const before = statSync(path).size;
    // Past SQLite's 1000-page threshold (3000 jobs, in the test above, stay under it).
    await store.addJobs(Array.from({ length: 20_000 }, (_, i) => job(i)));
    await store.addJobs([job(0)]);
    await sleep(10);
    expect(statSync(path).size).toBeGreaterThan(before + 500_000);
  });

  it('runs jobs on a private in-memory store, with no files at all', async () => {
    const sundial = createSundial({ store: { path: ':memory:' } });
    sundial.worker('q', { double: async (n: number) => n * 2 });
    const job = await sundial.queue('q').add('double', 21);
    await waitFor(async () => (await sundial.queue('q').getJob(job.id))?.state === 'completed');
    expect((await sundial.queue('q').getJob(job.id))!.result).toBe(42);
    await sundial.close();
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('tells other connections about schedule changes, and not about every job commit', async () => {
    const scheduler = open();
    const other = open();
    let scheduleWakes = 0;
    let jobWakes = 0;
    scheduler.subscribe(SCHEDULES_CHANNEL, () => scheduleWakes++);
    scheduler.subscribe('q', () => jobWakes++);
    await other.addJobs([job(1), job(2)]);
    await waitFor(() => jobWakes > 0, { message: 'the job wake-up' });
    await sleep(100);
    expect(scheduleWakes).toBe(0);
    await other.syncSchedules([{ id: 'backup', specHash: 'h', nextRunAt: 0 }], 0);
    await waitFor(() => scheduleWakes > 0, { message: 'the schedule wake-up' });
  });

  it('refuses bad options, naming the field and value', () => {
    expect(() => new SqliteStore({ path, synchronous: 'FULL' as never })).toThrow(
      `Invalid store.synchronous: "FULL" ('normal' or 'full')`,
    );
    expect(() => new SqliteStore({ path, busyTimeoutMs: Number.NaN })).toThrow(
      /Invalid store\.busyTimeoutMs: NaN/,
    );
    expect(() => new SqliteStore({ paht: 'x.db' } as never)).toThrow(
      /Invalid store\.paht: "x\.db" \(not a SQLite store option/,
    );
    expect(() => new SqliteStore({ path: '' })).toThrow(/Invalid store\.path: ""/);
  });

  it('refuses a database whose schema is newer than this Sundial, changing nothing', async () => {
    open();
    await stores.pop()!.close();
    const raw = new DatabaseSync(path);
    raw.exec("INSERT INTO sundial_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)");
    raw.close();
    expect(() => new SqliteStore({ path }).open()).toThrow(
      /schema version 999, newer than this Sundial knows/,
    );
    const check = new DatabaseSync(path);
    expect((check.prepare('SELECT max(version) AS v FROM sundial_migrations').get() as { v: number }).v).toBe(
      999,
    );
    check.close();
  });

  it('closes even when its checkpoint thread has died', async () => {
    const checkpointer = new Checkpointer(join(dir.path, 'no-such-folder', 'x.db'), 10);
    const errors: unknown[] = [];
    checkpointer.start((error) => errors.push(error));
    await waitFor(() => errors.length > 0, { message: 'the thread to fail opening its database' });
    // What died is told, with the file it could not open.
    expect(String(errors[0])).toMatch(/unable to open database|no-such-folder/);
    await sleep(20);
    // Stopping a checkpointer whose thread is gone resolves; it does not wait for that thread.
    const stopped = await Promise.race([
      checkpointer.stop().then(() => 'stopped'),
      sleep(5000).then(() => 'still waiting after 5 s'),
    ]);
    expect(stopped).toBe('stopped');
    expect(errors).toHaveLength(1);
  });
});
