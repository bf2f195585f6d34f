import { describe, expect, it } from 'vitest';
import { type Job, MAX_ERROR_MESSAGE_CHARS } from '../../src/index.ts';
import { BAD_RESULTS, ODD_RESULT, THROWERS } from '../fixtures/hostile-values.ts';
import { waitFor } from '../helpers.ts';
import { enginesUnderTest, startFixture, useSharedStore } from '../process/children.ts';

/**
 * A handler can throw or return anything. Whatever it is, its attempt ends with a readable,
 * storable outcome, the worker process stays up, and the good jobs beside it complete.
 */
describe.each(await enginesUnderTest())('hostile handlers on %s', (engine) => {
  const shared = useSharedStore(engine);

  it('fails every attempt that throws or returns a hostile value, and the worker process lives on', async () => {
    const q = shared.sundial.queue('q');
    const names = [...Object.keys(THROWERS), ...Object.keys(BAD_RESULTS)];
    const hostile = await q.addBulk(names.map((name) => ({ name, options: { attempts: 1 } })));
    const good = await q.addBulk(Array.from({ length: 20 }, () => ({ name: 'good' })));
    const child = startFixture('hostile-worker-process', shared.env);
    await child.ready;

    const all = [...hostile, ...good];
    const finished = await waitFor(
      async () => {
        const jobs = await Promise.all(all.map((job) => q.getJob(job.id)));
        return jobs.every((job) => job && ['completed', 'dead'].includes(job.state)) ? (jobs as Job[]) : null;
      },
      { timeoutMs: 30_000, message: 'every job to finish' },
    );
    const byName = new Map(finished.map((job) => [job.name, job]));
    for (const name of names) {
      const job = byName.get(name)!;
      expect(job.state, name).toBe('dead');
      expect(typeof job.error?.message, name).toBe('string');
      expect(job.error!.message.length, name).toBeGreaterThan(0);
      expect(job.error!.message.length, name).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
      expect(job.error!.message, name).not.toContain('\0');
      expect(job.error!.message.isWellFormed(), name).toBe(true);
      expect(job.history.at(-1)?.outcome, name).toBe('failed');
    }
    expect(finished.filter((job) => job.name === 'good').map((job) => job.state)).toEqual(
      Array(20).fill('completed'),
    );
    // Still up: it did not die of any of them.
    expect(child.process.exitCode).toBeNull();
    expect(child.process.signalCode).toBeNull();

    // What each one reads as.
    const message = (name: string) => byName.get(name)!.error!.message;
    expect(message('message-getter-throws')).toBe('[the error message could not be read]');
    expect(byName.get('stack-getter-throws')!.error).toMatchObject({ message: 'visible' });
    expect(byName.get('name-getter-throws')!.error).toMatchObject({ name: 'Error', message: 'visible' });
    expect(message('symbol')).toBe('thrown value: Symbol(thrown symbol)');
    expect(message('to-string-throws')).toBe('thrown value: [an object that cannot be read]');
    expect(message('null')).toBe('thrown value: null');
    expect(message('nul-in-message')).toBe('before\uFFFDafter');
    expect(message('unpaired-surrogate-in-message')).toBe('half \uFFFD of an emoji');
    expect(message('huge-message')).toMatch(/^start x+\n\[\.\.\. \d+ characters cut \.\.\.\]\nx+ end$/);
    for (const name of Object.keys(BAD_RESULTS).filter((n) => n !== 'returns-too-large')) {
      expect(byName.get(name)!.error!.category, name).toBe('unserializable');
    }
    expect(message('returns-deep-nesting')).toMatch(/nested more than 1000 levels/);
    // Worded so that masking (a key named like a secret, then a word) leaves it readable.
    expect(message('returns-throwing-getter')).toMatch(
      /^Cannot store result\.secret, whose value cannot be read \(reading it threw Error: getter\)$/,
    );
    expect(byName.get('returns-too-large')!.error).toMatchObject({
      name: 'ResultTooLargeError (SUNDIAL_RESULT_TOO_LARGE)',
      category: 'unrecoverable',
    });
    expect(byName.get('returns-too-large')!.deadLetter?.reason).toBe('unrecoverable');
  });

  it('stores results and payloads holding NUL and unpaired surrogates exactly, on every engine', async () => {
    const q = shared.sundial.queue('q');
    const payload = { text: 'p\0q \uDC00', 'key\0': [1, '\0'] };
    const echo = await q.add('echo', payload);
    const odd = await q.add('odd-result');
    expect((await q.getJob(echo.id))!.payload).toEqual(payload);
    const child = startFixture('hostile-worker-process', shared.env);
    await child.ready;
    await waitFor(async () => (await q.counts()).completed === 2, { message: 'both to complete' });
    expect((await q.getJob(echo.id))!.result).toEqual(payload);
    expect((await q.getJob(odd.id))!.result).toEqual(ODD_RESULT);
  });
});
