import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { killJobs } from '../conformance/search-conformance.ts';
import { tempDir } from '../helpers.ts';
import { CLI, cliOn } from './run-cli.ts';

/** The commands over `sundial.admin` that list and act by filter, on a real SQLite file. */
describe('sundial CLI: filters, bulk actions and the dead-letter queue', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: string;

  beforeEach(async () => {
    dir = tempDir();
    db = join(dir.path, 'cli.db');
    const sundial = createSundial({ store: { path: db } });
    const mail = sundial.queue('mail');
    await mail.addBulk(Array.from({ length: 1500 }, (_, n) => ({ name: 'send', payload: { n } })));
    await killJobs(sundial.store, 1500, 'mail', {
      name: 'SmtpError',
      message: 'mailbox full',
      category: 'error',
    });
    await mail.addBulk([
      { name: 'digest', payload: { to: 'ops@example.com' } },
      { name: 'later', options: { delay: 3_600_000 } },
    ]);
    await sundial.close();
  });
  afterEach(() => dir.cleanup());

  const sundial = cliOn(() => db);

  it('lists by filter with a total and a cursor for the next page', () => {
    const first = sundial('jobs', 'mail', '--state', 'dead', '--limit', '2');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^ID\s+NAME/);
    expect(first.stdout).toMatch(/1500\s+send\s+dead.*mailbox full/);
    const footer = /2 of 1500; next page: --cursor (\d+)$/.exec(first.stdout);
    expect(footer).not.toBeNull();
    const second = sundial('jobs', 'mail', '--state', 'dead', '--limit', '2', '--cursor', footer![1]!);
    expect(second.stdout).toMatch(/1498\s+send\s+dead/);
    const found = JSON.parse(sundial('--json', 'jobs', 'mail', '--text', 'EXAMPLE.COM').stdout);
    expect(found).toMatchObject({ next: null, total: { count: 1, exact: true } });
    expect(found.jobs.map((job: { name: string }) => job.name)).toEqual(['digest']);
    expect(sundial('jobs', 'mail', '--name', 'later', '--since', '1h').stdout).toMatch(/later\s+delayed/);
    const bad = sundial('jobs', 'mail', '--state', 'dead', 'sleeping');
    expect(bad).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^sundial: Invalid --state: "sleeping"/),
    });
    expect(sundial('jobs', 'mail', '--since', 'last week').stderr).toMatch(
      /^sundial: Invalid --since: "last week"/,
    );
  });

  it('retries every dead job of a queue: a preview, progress lines off a terminal, a summary', () => {
    expect(sundial('dlq', 'retry', 'mail', '--dry-run').stdout).toBe('would retry 1500 jobs dead in mail');
    // Off a terminal nobody can confirm: --yes is required, and nothing changes without it.
    const unconfirmed = sundial('dlq', 'retry', 'mail');
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toMatch(/Pass --yes to act, or --dry-run to count/);
    expect(sundial('dlq', 'list', 'mail', '--limit', '1').stdout).toMatch(/1 of 1500/);

    const done = sundial('dlq', 'retry', 'mail', '--yes');
    expect(done).toMatchObject({ code: 0, stdout: 'retried 1500 jobs dead in mail' });
    expect(done.stderr.split('\n').at(-1)).toBe('retry: 1500 of 1500 done');
    expect(sundial('dlq', 'list', 'mail').stdout).toBe('no jobs');
    expect(JSON.parse(sundial('--json', 'queues').stdout)[0].counts).toMatchObject({
      waiting: 1501,
      dead: 0,
    });
  });

  it('shows a progress bar on a terminal', () => {
    // `script` (util-linux) runs the command on a pseudo-terminal, as a person's shell would.
    const command = [process.execPath, CLI, '--db', db, 'dlq', 'retry', 'mail', '--yes']
      .map((part) => `'${part}'`)
      .join(' ');
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/retry \[[█░]+\] 1500\/1500 \(100%\)/);
    expect(result.stdout).toContain('retried 1500 jobs dead in mail');
  });

  it('acts in bulk by filter with a limit, promotes, drains and obliterates', () => {
    const cancelled = sundial('bulk', 'cancel', 'mail', '--state', 'dead', '--yes');
    expect(cancelled.code).toBe(1);
    expect(cancelled.stderr).toMatch(
      /^sundial: Invalid --state: \["dead"\] \(cancel applies to jobs waiting/,
    );
    expect(sundial('bulk', 'remove', 'mail', '--state', 'dead', '--limit', '100', '--yes').stdout).toBe(
      'deleted 100 jobs in mail',
    );
    expect(sundial('dlq', 'purge', 'mail', '--dry-run').stdout).toBe('would delete 1400 jobs dead in mail');
    const later = JSON.parse(sundial('--json', 'jobs', 'mail', '--name', 'later').stdout).jobs[0];
    expect(sundial('promote', 'mail', later.id).stdout).toBe(`job ${later.id} (later): waiting`);
    expect(sundial('drain', 'mail', '--yes').stdout).toBe('deleted 2 jobs waiting or delayed in mail');
    expect(sundial('obliterate', 'mail', '--confirm', 'mial').stderr).toMatch(
      /^sundial: Invalid --confirm: "mial" \(the queue's name again: "mail"\)/,
    );
    expect(sundial('obliterate', 'mail', '--confirm', 'mail').stdout).toBe(
      'queue mail obliterated: 1400 jobs deleted',
    );
    expect(sundial('queues').stdout).toBe('no queues yet');
  });
});
