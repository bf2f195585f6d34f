import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';
import { CLI, cliOn } from './run-cli.ts';

describe('sundial CLI', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: string;

  beforeEach(async () => {
    dir = tempDir();
    db = join(dir.path, 'cli.db');
    const sundial = createSundial({ store: { path: db } });
    await sundial.queue('emails').addBulk([{ name: 'welcome', payload: { to: 'a@b.c' } }, { name: 'bye' }]);
    await sundial.close();
  });
  afterEach(() => dir.cleanup());

  const sundial = cliOn(() => db);

  it('lists queues with counts as a table and as JSON', () => {
    const text = sundial('queues');
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^QUEUE\s+PAUSED\s+WAITING/);
    expect(text.stdout).toMatch(/emails\s+no\s+2\s+0/);
    const json = JSON.parse(sundial('queues', '--json').stdout);
    expect(json).toEqual([
      expect.objectContaining({
        name: 'emails',
        paused: false,
        counts: expect.objectContaining({ waiting: 2 }),
      }),
    ]);
  });

  it('lists, cancels, retries and shows jobs', () => {
    expect(sundial('jobs', 'emails').stdout).toMatch(/2\s+bye\s+waiting/);
    expect(sundial('cancel', 'emails', '1').stdout).toBe('job 1 (welcome): cancelled');
    expect(sundial('jobs', 'emails', '--state', 'cancelled', '--json').stdout).toContain('"welcome"');
    expect(sundial('retry', 'emails', '1').stdout).toBe('job 1 (welcome): waiting');
    expect(JSON.parse(sundial('job', 'emails', '1').stdout)).toMatchObject({
      id: '1',
      payload: { to: 'a@b.c' },
    });
  });

  it('prunes finished jobs older than a duration', () => {
    sundial('cancel', 'emails', '1');
    expect(sundial('prune', 'emails', '--older-than', '0ms', '--state', 'cancelled')).toMatchObject({
      code: 0,
      stdout: 'deleted 1 jobs',
    });
    expect(sundial('prune', 'emails', '--older-than', '7d').stdout).toBe('deleted 0 jobs');
    expect(sundial('jobs', 'emails', '--json').stdout).not.toContain('"welcome"');
  });

  it('pauses and resumes a queue', () => {
    sundial('pause-queue', 'emails');
    expect(sundial('queues').stdout).toMatch(/emails\s+yes/);
    sundial('resume-queue', 'emails');
    expect(sundial('queues').stdout).toMatch(/emails\s+no/);
  });

  it('exits 1 with a message naming the bad value', () => {
    const bad = sundial('prune', 'emails', '--older-than', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'sundial: Invalid --older-than: "soon" (a duration like 500ms, 30s, 15m, 12h, 7d or 2w)',
    );
    const state = sundial('jobs', 'emails', '--state', 'sleeping');
    expect(state.code).toBe(1);
    expect(state.stderr).toContain('Invalid --state: "sleeping"');
    expect(sundial('jobs', 'emails', '--limit', 'ten').stderr).toBe(
      'sundial: Invalid --limit: "ten" (a whole number)',
    );
    const nowhere = spawnSync(process.execPath, [CLI, '--db', join(dir.path, 'typo.db'), 'queues'], {
      encoding: 'utf8',
    });
    expect(nowhere.status).toBe(1);
    expect(nowhere.stderr).toContain('No Sundial database at');
    expect(existsSync(join(dir.path, 'typo.db'))).toBe(false);
    const missing = sundial('retry', 'emails', '99');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('sundial: No job with id "99"');
  });
});
