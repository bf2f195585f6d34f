import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** What the CLI does with configs and databases it should refuse, and with a project just begun. */
describe('sundial CLI facing bad configs and foreign databases', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  const sundial = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args], {
      cwd: dir.path,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };
  const config = (name: string, text: string) => writeFileSync(join(dir.path, name), text);
  const db = () => join(dir.path, 'app.db');
  const TASK = `schedule(s) { s.call(() => {}).name('tick').everyMinute(); }`;

  it('refuses a config with a bad worker option before starting anything, and exits 1 at once', async () => {
    config(
      'sundial.config.mjs',
      `export default { store: { path: ${JSON.stringify(db())} }, ${TASK},
  workers: { emails: { handlers: { send: () => {} }, options: { concurrency: -1 } } } };`,
    );
    const work = spawn(process.execPath, [CLI, 'work'], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    work.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    // It ends by itself: a hang here would time the test out.
    const code = await new Promise((resolve) => work.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      'sundial: Invalid workers.emails.options.concurrency: -1 (a whole number from 1 to 10000)',
    );
    // Nothing started: no scheduler recorded its tasks (nor made the database).
    expect(existsSync(db())).toBe(false);
  });

  it.each([
    [
      'a bad store option',
      `store: { path: 'x.db', synchronous: 'sometimes' }`,
      /^sundial: Invalid store\.synchronous: "sometimes"/,
    ],
    ['a store that is neither a store nor options', 'store: 42', /^sundial: Invalid store: 42 \(a store/],
    [
      'workers without handlers',
      `workers: { emails: { options: {} } }`,
      /^sundial: Invalid workers\.emails\.handlers: undefined/,
    ],
    [
      'a bad worker option',
      `workers: { emails: { handlers: { a() {} }, options: { leaseMs: 'long' } } }`,
      /^sundial: Invalid workers\.emails\.options\.leaseMs: "long"/,
    ],
    [
      'a bad task runner worker option',
      `taskRunner: { concurrency: 0 }`,
      /^sundial: Invalid taskRunner\.concurrency: 0/,
    ],
    [
      'a misspelt task runner option',
      `taskRunner: { concurency: 4 }`,
      /^sundial: Invalid taskRunner\.concurency: 4 \(not a task runner option/,
    ],
    [
      'a secret key masking cannot use',
      `taskRunner: { secretKeys: ['a'] }`,
      /^sundial: Invalid taskRunner\.secretKeys\[0\]: "a"/,
    ],
    [
      'a bad scheduler option',
      `scheduler: { misfireGraceMs: -1 }`,
      /^sundial: Invalid scheduler\.misfireGraceMs: -1/,
    ],
  ])('sundial list exits 1 on a config with %s', (_title, part, message) => {
    config('sundial.config.mjs', `export default { ${TASK}, ${part} };`);
    const listed = sundial('list');
    expect(listed.code).toBe(1);
    expect(listed.stderr).toMatch(message);
  });

  it('says plainly why a config cannot be used: a rejected promise, a directory, a module that throws', () => {
    config('rejects.mjs', `export default Promise.reject(new Error('vault sealed'));`);
    config('throws.mjs', `throw new TypeError('half-written config');`);
    mkdirSync(join(dir.path, 'folder.config.mjs'));
    expect(sundial('list', '--config', 'rejects.mjs')).toMatchObject({
      code: 1,
      stderr: `sundial: Cannot use the config ${join(dir.path, 'rejects.mjs')}: its default export is a promise that rejected (Error: vault sealed)`,
    });
    expect(sundial('list', '--config', 'throws.mjs')).toMatchObject({
      code: 1,
      stderr: `sundial: Cannot use the config ${join(dir.path, 'throws.mjs')}: it could not be loaded (TypeError: half-written config)`,
    });
    expect(sundial('list', '--config', 'folder.config.mjs')).toMatchObject({
      code: 1,
      stderr: `sundial: ${join(dir.path, 'folder.config.mjs')} is not a file: give the config file itself`,
    });
    // A config may be a promise of one.
    config('later.mjs', `export default Promise.resolve({ ${TASK} });`);
    expect(sundial('list', '--config', 'later.mjs', '--json').code).toBe(0);
  });

  it("refuses to add Sundial's tables to another application's SQLite file unless told", async () => {
    const { DatabaseSync } = await import('node:sqlite');
    const other = new DatabaseSync(db());
    other.exec(
      'CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)',
    );
    other.close();
    const tables = () => {
      const reader = new DatabaseSync(db(), { readOnly: true });
      const names = (
        reader.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]
      ).map((r) => r.name);
      reader.close();
      return names;
    };
    for (const args of [['queues'], ['down']]) {
      const refused = sundial('--db', db(), ...args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `sundial: ${db()} is not a Sundial database: it holds other tables (invoices). Point the store at a file of its own, or pass allowOtherTables: true (--allow-other-tables) to add Sundial's tables beside them`,
      );
    }
    expect(tables()).toEqual(['invoices']);
    expect(sundial('--db', db(), '--allow-other-tables', 'queues').code).toBe(0);
    expect(tables()).toContain('sundial_jobs');
    expect(tables()).toContain('invoices');
    // Once Sundial's, it opens without the flag.
    expect(sundial('--db', db(), 'queues').code).toBe(0);
  });

  it("shows a configured project's empty state before anything ran, creating no file; a mistyped --db is refused", () => {
    config('sundial.config.mjs', `export default { store: { path: '.sundial/app.db' }, ${TASK} };`);
    const listed = sundial('list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { id: 'tick', lastRunAt: null, lastStatus: null, paused: false },
    ]);
    expect(sundial('queues')).toMatchObject({ code: 0, stdout: 'no queues yet' });
    expect(sundial('jobs', 'emails')).toMatchObject({ code: 0, stdout: 'no jobs' });
    expect(sundial('locks')).toMatchObject({ code: 0, stdout: 'no locks held' });
    expect(readdirSync(dir.path)).toEqual(['sundial.config.mjs']);
    const mistyped = sundial('queues', '--db', 'ap.db');
    expect(mistyped).toMatchObject({
      code: 1,
      stderr: 'sundial: No Sundial database at ap.db (set --db, SUNDIAL_DB or a config)',
    });
  });

  it('names the task of each run in the work log, shows runs skipped for a held lock, and lists job tasks by task', async () => {
    config(
      'sundial.config.mjs',
      `export default { store: { path: ${JSON.stringify(db())} },
  schedule(s) {
    s.call(({ log }) => log('hi')).name('greeter').everySecond();
    s.job('mail', 'digest', { n: 1 }).name('digest-task').everySecond();
  },
  workers: { mail: { handlers: { digest: () => 'sent' } } } };`,
    );
    const app = createSundial({ store: { path: db() } });
    // Another run holds greeter's lock: each run of it is skipped, and says by whom.
    const lock = await app.locks.acquire('task:greeter', { runId: 'a manual run' });
    const work = spawn(process.execPath, [CLI, 'work'], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    work.stdout.on('data', (chunk) => {
      log += chunk;
    });
    try {
      const deadline = Date.now() + 20_000;
      while (
        !(
          /skipped {3}greeter \(run \d+\): the task's lock is held by a manual run/.test(log) &&
          /completed mail#\d+ digest \(task digest-task\) in \d+ ms/.test(log)
        )
      ) {
        if (Date.now() > deadline) throw new Error(`work did not log both runs:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      work.kill('SIGTERM');
      await new Promise((resolve) => work.once('exit', resolve));
      await lock!.release();
      await app.close();
    }
    const jobs = sundial('jobs', 'mail');
    expect(jobs.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+TASK\s+STATE/);
    expect(jobs.stdout.split('\n')[1]).toMatch(/^\d+\s+digest\s+digest-task\s+/);
  });
});
