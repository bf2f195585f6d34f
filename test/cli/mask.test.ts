import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * What the CLI prints is masked on its way out too, so a job stored before masking (by an older
 * Sundial, or before a rule of the app's was added) does not show its secrets.
 */
describe('sundial CLI masking what it prints', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: string;

  beforeEach(async () => {
    dir = tempDir();
    db = join(dir.path, 'app.db');
    const sundial = createSundial({ store: { path: db } });
    await sundial.queue('app').add('sync', { to: 'ada', token: 'tok-hunter2' });
    await sundial.close();
    // As an older Sundial stored it: the error as it was thrown.
    const error = {
      name: 'Error',
      message: 'cannot reach postgres://app:hunter2@db with acme-1234',
      category: 'error',
    };
    const sqlite = new DatabaseSync(db);
    sqlite
      .prepare("UPDATE sundial_jobs SET state = 'dead', error = ? WHERE id = 1")
      .run(JSON.stringify(error));
    sqlite.close();
    writeFileSync(join(dir.path, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(dir.path, 'sundial.config.mjs'),
      `export default { store: { path: ${JSON.stringify(db)} }, mask: { rules: [/acme-\\d{4}/] } };\n`,
    );
  });
  afterEach(() => dir.cleanup());

  function sundial(...args: string[]) {
    const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir.path, encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  }

  it('masks stored text with the built-in rules and the config’s, as a table and as JSON', () => {
    const table = sundial('jobs', 'app');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('cannot reach postgres://app:[masked]@db with [masked]');

    const listed = JSON.parse(sundial('--json', 'jobs', 'app').stdout);
    expect(listed.jobs[0]).toMatchObject({
      id: '1',
      state: 'dead',
      payload: { to: 'ada', token: '[masked]' },
      error: { message: 'cannot reach postgres://app:[masked]@db with [masked]' },
    });

    const shown = sundial('job', 'app', '1');
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: '1', payload: { token: '[masked]' } });
    for (const output of [table.stdout, JSON.stringify(listed), shown.stdout]) {
      expect(output).not.toContain('hunter2');
      expect(output).not.toContain('acme-1234');
    }
  });

  it('masks a config value its error line echoes', () => {
    writeFileSync(
      join(dir.path, 'bad.config.mjs'),
      `export default { store: { path: ${JSON.stringify(db)} }, schedule: (s) => s.ping('ftp://admin:hunter2@files.test/x').hourly() };\n`,
    );
    const failed = sundial('list', '--config', 'bad.config.mjs');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^sundial: Invalid tasks\[.*\]\.ping: "ftp:\/\/admin:\[masked\]@files\.test\/x"/,
    );
    expect(failed.stderr).not.toContain('hunter2');
  });
});
