import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { CLI } from './run-cli.ts';

const EXAMPLE = fileURLToPath(new URL('../../sundial.config.ts', import.meta.url));

/** The config behind `npm start`, as the README's commands use it (on a store of the test's own). */
describe('the example config', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  function sundial(...args: string[]) {
    const result = spawnSync(
      process.execPath,
      [CLI, '--config', EXAMPLE, '--db', join(dir.path, 'example.db'), ...args],
      { cwd: dir.path, encoding: 'utf8' },
    );
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  }

  it('lists its tasks, runs one now, and sends a job with bad input to the dead-letter queue', () => {
    expect(sundial('test', 'memory-check')).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^completed memory-check\nheap in use: \d+ MB$/),
    });
    const listed = JSON.parse(sundial('--json', 'list').stdout) as { id: string; frequency: string }[];
    expect(listed.map((task) => task.id)).toEqual([
      'welcome-emails',
      'thumbnails',
      'monthly-report',
      'broken-import',
      'memory-check',
      'backup',
    ]);
    // A job task, run by the config's own worker for queue "examples": no retries for bad input.
    expect(sundial('test', 'broken-import')).toMatchObject({
      code: 1,
      stdout: 'dead      broken-import: rows must not be negative, got -1',
    });
    expect(sundial('dlq', 'list', 'examples').stdout).toMatch(/import-csv\s+broken-import\s+dead\s+1/);
    expect(sundial('queues').stdout).toMatch(/examples\s+no\s+0\s+0\s+0\s+0\s+0\s+1/);
  });
});
