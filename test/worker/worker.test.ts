import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  InvalidOptionError,
  type Job,
  type JobOutcome,
  MAX_RUN_AT,
  type Sundial,
  type SundialEvents,
  UnrecoverableError,
} from '../../src/index.ts';
import { interpose, sleep, tempDir, waitFor } from '../helpers.ts';

describe('worker', () => {
  let dir: ReturnType<typeof tempDir>;
  let sundial: Sundial;

  beforeEach(() => {
    dir = tempDir();
    sundial = createSundial({ store: { path: join(dir.path, 'worker.db') } });
  });
  afterEach(async () => {
    await sundial.close({ graceMs: 0 });
    dir.cleanup();
  });

  const settled = (id: string) =>
    waitFor(
      async () => {
        const job = await sundial.queue('q').getJob(id);
        return job && ['completed', 'dead', 'cancelled'].includes(job.state) ? job : null;
      },
      { message: `job ${id} to finish` },
    );

  function record<Name extends keyof SundialEvents & string>(name: Name): SundialEvents[Name][] {
    const seen: SundialEvents[Name][] = [];
    sundial.on(name, (event) => seen.push(event));
    return seen;
  }

  it('runs a job with its payload and stores the result and the attempt', async () => {
    const completed = record('job.completed');
    sundial.worker('q', {
      greet: async (payload: { name: string }, ctx) => `hello ${payload.name} #${ctx.attempt}`,
    });
    const added = await sundial.queue('q').add('greet', { name: 'Ada' });
    const job = await settled(added.id);
    expect(job).toMatchObject({
      state: 'completed',
      result: 'hello Ada #1',
      attempt: 1,
      failures: 0,
      leaseOwner: null,
    });
    expect(job.history).toHaveLength(1);
    expect(job.history[0]).toMatchObject({ attempt: 1, outcome: 'completed' });
    await waitFor(() => completed.length === 1);
    expect(completed[0]!.result).toBe('hello Ada #1');
  });

  it('retries a failing job with its backoff until it succeeds', async () => {
    let calls = 0;
    sundial.worker('q', {
      flaky: async () => {
        calls++;
        if (calls < 3) throw new Error(`flake ${calls}`);
        return 'ok';
      },
    });
    const added = await sundial
      .queue('q')
      .add('flaky', null, { attempts: 5, backoff: { type: 'fixed', delay: 30 } });
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'completed', result: 'ok', attempt: 3, failures: 2 });
    expect(job.history.map((h) => [h.attempt, h.outcome, h.error?.message])).toEqual([
      [1, 'failed', 'flake 1'],
      [2, 'failed', 'flake 2'],
      [3, 'completed', undefined],
    ]);
    // Each retry waited for the backoff after the failure.
    expect(job.history[1]!.startedAt - job.history[0]!.finishedAt).toBeGreaterThanOrEqual(30);
  });

  it('sends a job that fails every attempt to dead, announcing each failure', async () => {
    const failed = record('job.failed');
    const retrying = record('job.retrying');
    const dead = record('job.dead');
    sundial.worker('q', {
      broken: () => {
        throw new TypeError('cannot read x');
      },
    });
    const added = await sundial.queue('q').add('broken', null, { attempts: 3, backoff: 5 });
    const job = await settled(added.id);
    expect(job).toMatchObject({
      state: 'dead',
      failures: 3,
      error: { name: 'TypeError', message: 'cannot read x', category: 'error' },
      deadLetter: { reason: 'attempts_exhausted', failures: 3, stalls: 0, queue: 'q' },
    });
    expect(job.error!.stack).toContain('cannot read x');
    await waitFor(() => dead.length === 1);
    expect(failed).toHaveLength(3);
    expect(retrying.map((r) => r.delayMs)).toEqual([5, 5]);
  });

  it('skips the remaining attempts on an UnrecoverableError', async () => {
    sundial.worker('q', {
      validate: () => {
        throw new UnrecoverableError('payload has no email');
      },
    });
    const added = await sundial.queue('q').add('validate', {}, { attempts: 10 });
    const job = await settled(added.id);
    expect(job).toMatchObject({
      state: 'dead',
      failures: 1,
      deadLetter: { reason: 'unrecoverable' },
      error: { category: 'unrecoverable' },
    });
  });

  it('treats errors the handler declares permanent like unrecoverable ones, and uses its own backoff', async () => {
    class NotFound extends Error {}
    let calls = 0;
    sundial.worker('q', {
      fetch: {
        handle: () => {
          calls++;
          throw calls === 1 ? new Error('busy') : new NotFound('gone');
        },
        isPermanent: (error) => error instanceof NotFound,
        backoff: (failures) => failures * 40,
      },
    });
    const added = await sundial.queue('q').add('fetch', null, { attempts: 10 });
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'dead', failures: 2, deadLetter: { reason: 'unrecoverable' } });
    expect(job.history[1]!.startedAt - job.history[0]!.finishedAt).toBeGreaterThanOrEqual(40);
  });

  it('fails a job whose handler is unknown into dead, with a clear error, never dropping it', async () => {
    sundial.worker('q', { known: async () => 1 });
    const added = await sundial.queue('q').add('unknown', { keep: 'me' }, { attempts: 5 });
    const job = await settled(added.id);
    expect(job).toMatchObject({
      state: 'dead',
      payload: { keep: 'me' },
      deadLetter: { reason: 'unknown_handler', queue: 'q' },
      error: { category: 'unknown_handler' },
    });
    expect(job.error!.message).toBe(
      'No handler named "unknown" on the worker for queue "q" (registered: "known")',
    );
  });

  it('fails an attempt at its timeout even when the handler ignores the signal', async () => {
    let signal: AbortSignal | undefined;
    sundial.worker('q', {
      stubborn: (_payload, ctx) => {
        signal = ctx.signal;
        return new Promise((resolve) => setTimeout(() => resolve('too late'), 1000));
      },
    });
    const added = await sundial.queue('q').add('stubborn', null, { timeout: 50, attempts: 1 });
    const job = await settled(added.id);
    expect(job).toMatchObject({
      state: 'dead',
      error: { category: 'timeout', message: 'Job timed out after 50 ms' },
    });
    expect(signal!.aborted).toBe(true);
    expect(job.finishedAt! - job.startedAt!).toBeLessThan(1000);
  });

  it('dead-letters a job whose result cannot be stored', async () => {
    sundial.worker('q', { leaky: async () => ({ socket: new Map() }) });
    const added = await sundial.queue('q').add('leaky', null, { attempts: 4 });
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'dead', failures: 1, error: { category: 'unserializable' } });
    expect(job.error!.message).toContain('result.socket');
  });

  it('runs at most `concurrency` jobs at once', async () => {
    let running = 0;
    let peak = 0;
    sundial.worker(
      'q',
      {
        slow: async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(15);
          running--;
        },
      },
      { concurrency: 3 },
    );
    await sundial.queue('q').addBulk(Array.from({ length: 12 }, () => ({ name: 'slow' })));
    await waitFor(async () => (await sundial.queue('q').counts()).completed === 12);
    expect(peak).toBe(3);
  });

  it('keeps going with synchronous handlers that finish inside the claim round', async () => {
    // No wake file: the worker must wake itself after a synchronous handler settles.
    const quiet = createSundial({ store: { path: join(dir.path, 'quiet.db'), wakeSignal: false } });
    try {
      let ran = 0;
      quiet.worker('q', { sync: () => ++ran }, { concurrency: 5, pollMs: 60_000 });
      await quiet.queue('q').addBulk(Array.from({ length: 53 }, () => ({ name: 'sync' })));
      await waitFor(async () => (await quiet.queue('q').counts()).completed === 53, { timeoutMs: 3000 });
      expect(ran).toBe(53);
    } finally {
      await quiet.close();
    }
  });

  it('runs higher priorities first', async () => {
    const order: number[] = [];
    const q = sundial.queue('q');
    await q.addBulk([
      { name: 'n', payload: 1, options: { priority: 1 } },
      { name: 'n', payload: 2, options: { priority: 10 } },
      { name: 'n', payload: 3 },
      { name: 'n', payload: 4, options: { priority: 10 } },
    ]);
    sundial.worker('q', { n: async (p: number) => void order.push(p) }, { concurrency: 1 });
    await waitFor(() => order.length === 4);
    expect(order).toEqual([2, 4, 1, 3]);
  });

  it('runs a delayed job once it is due, not before', async () => {
    const started: number[] = [];
    sundial.worker('q', { later: async () => void started.push(Date.now()) });
    const added = await sundial.queue('q').add('later', null, { delay: 300 });
    const job = await settled(added.id);
    expect(job.state).toBe('completed');
    expect(started[0]! - added.createdAt).toBeGreaterThanOrEqual(300);
  });

  it('leaves a paused queue alone until it is resumed', async () => {
    const q = sundial.queue('q');
    await q.pause();
    let rounds = 0;
    const store = sundial.store;
    const counting = createSundial({
      store: interpose(store, {
        finishAndClaim: (outcomes, claim) => {
          rounds++;
          return store.finishAndClaim(outcomes, claim);
        },
      }),
    });
    counting.worker('q', { n: async () => 'ran' }, { pollMs: 20 });
    const added = await q.add('n');
    const before = rounds;
    await waitFor(() => rounds >= before + 3, { message: 'claim rounds on the paused queue' });
    expect((await q.getJob(added.id))!.state).toBe('waiting');
    await q.resume();
    expect((await settled(added.id)).state).toBe('completed');
    await counting.close();
  });

  it('recovers a job whose worker stopped renewing its lease, and runs it again', async () => {
    const stalled = record('job.stalled');
    const added = await sundial.queue('q').add('n', 'payload');
    // A worker that claims the job and then dies: nothing renews its short lease.
    const now = Date.now();
    await sundial.store.claimJobs({ queue: 'q', owner: 'ghost', limit: 1, now, leaseExpiresAt: now + 100 });
    sundial.worker('q', { n: async () => 'second run' }, { stalledCheckMs: 20 });
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'completed', result: 'second run', stalls: 1, attempt: 2 });
    expect(job.history.map((h) => [h.attempt, h.outcome, h.worker])).toEqual([
      [1, 'stalled', 'ghost'],
      [2, 'completed', expect.stringMatching(/^worker:/)],
    ]);
    expect(stalled).toEqual([
      { job: expect.objectContaining({ id: added.id, queue: 'q', name: 'n', stalls: 1 }), recovered: true },
    ]);
  });

  it('runs a job claimed under its name whose claim answer never reached it', async () => {
    const worker = sundial.worker(
      'q',
      { n: () => 'ran' },
      { leaseMs: 300, heartbeatMs: 100, stalledCheckMs: 50, autostart: false },
    );
    const added = await sundial.queue('q').add('n');
    // What a claim looks like when the connection drops before its answer: active under our name.
    const now = Date.now();
    await sundial.store.claimJobs({ queue: 'q', owner: worker.id, limit: 1, now, leaseExpiresAt: now + 100 });
    worker.start();
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'completed', result: 'ran', attempt: 2 });
    expect(job.history.map((h) => h.outcome)).toEqual(['stalled', 'completed']);
  });

  it('claims ahead with prefetch, runs no more than its concurrency, and gives prefetched jobs back on close', async () => {
    let running = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const worker = sundial.worker(
      'q',
      {
        gated: () =>
          new Promise<void>((resolve) => {
            running++;
            most = Math.max(most, running);
            gates.push(() => {
              running--;
              resolve();
            });
          }),
      },
      { concurrency: 1, prefetch: 2 },
    );
    const q = sundial.queue('q');
    await q.addBulk(Array.from({ length: 5 }, () => ({ name: 'gated' })));
    // One running and two claimed ahead: three active in the store, one handler going.
    await waitFor(async () => (await q.counts()).active === 3);
    expect(running).toBe(1);
    gates.shift()!();
    await waitFor(async () => (await q.counts()).completed === 1 && gates.length === 1);
    expect(running).toBe(1);
    // Closing gives back what was claimed ahead; the running one is released after the grace.
    await worker.close({ graceMs: 0 });
    expect(await q.counts()).toMatchObject({ completed: 1, active: 0, waiting: 4 });
    expect(most).toBe(1);
  });

  it('starts a job claimed ahead as soon as the running one is interrupted', async () => {
    const started: number[] = [];
    sundial.worker(
      'q',
      {
        step: (payload: { n: number }, ctx) =>
          new Promise((resolve) => {
            started.push(payload.n);
            if (payload.n === 2) resolve('second');
            ctx.signal.addEventListener('abort', () => resolve(null));
          }),
      },
      { concurrency: 1, prefetch: 1 },
    );
    const q = sundial.queue('q');
    const [first, second] = await q.addBulk([
      { name: 'step', payload: { n: 1 } },
      { name: 'step', payload: { n: 2 } },
    ]);
    await waitFor(async () => started.length === 1 && (await q.counts()).active === 2);
    await q.cancel(first!.id);
    const done = await settled(second!.id);
    expect(done).toMatchObject({ state: 'completed', result: 'second' });
    expect(started).toEqual([1, 2]);
  });

  it('aborts a running job that is cancelled', async () => {
    let signal: AbortSignal | undefined;
    const worker = sundial.worker(
      'q',
      {
        long: (_p, ctx) => {
          signal = ctx.signal;
          return new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        },
      },
      { leaseMs: 300, heartbeatMs: 20 },
    );
    const added = await sundial.queue('q').add('long');
    await waitFor(() => signal);
    await sundial.queue('q').cancel(added.id);
    await waitFor(() => signal!.aborted, { message: 'the signal to abort' });
    expect(worker.activeCount).toBe(0);
    await sleep(50);
    const job = (await sundial.queue('q').getJob(added.id))!;
    expect(job).toMatchObject({ state: 'cancelled', attempt: 1, result: null });
    expect(job.history.map((h) => h.outcome)).toEqual(['cancelled']);
  });

  it('stops a cancelled job at once, without waiting for a heartbeat, when another process cancels it', async () => {
    // The canceller is another Sundial on the same file, as `sundial interrupt` would be.
    const other = createSundial({ store: { path: join(dir.path, 'worker.db') } });
    const interrupted = record('job.interrupted');
    let signal: AbortSignal | undefined;
    sundial.worker(
      'q',
      {
        long: (_p, ctx) => {
          signal = ctx.signal;
          return new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        },
      },
      // A heartbeat every 5 minutes: only the cancel notice can stop the run within the wait below.
      { leaseMs: 900_000, heartbeatMs: 300_000 },
    );
    const added = await sundial.queue('q').add('long');
    await waitFor(() => signal);
    await other.queue('q').cancel(added.id);
    await other.close();
    await waitFor(() => signal!.aborted, { message: 'the signal to abort', timeoutMs: 5000 });
    expect(interrupted.map((event) => event.job.id)).toEqual([added.id]);
  });

  it('stops the old run when a cancelled job is retried before the heartbeat, and runs it once more', async () => {
    const signals: AbortSignal[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = sundial.worker(
      'q',
      {
        long: async (_p, ctx) => {
          signals.push(ctx.signal);
          if (ctx.attempt === 1) await gate; // the first run outlives its cancel, ignoring the signal
          return `run ${ctx.attempt}`;
        },
      },
      { leaseMs: 60_000, heartbeatMs: 30_000 },
    );
    const q = sundial.queue('q');
    const added = await q.add('long');
    await waitFor(() => signals.length === 1);
    await q.cancel(added.id);
    await q.retry(added.id);
    const job = await settled(added.id);
    expect(job).toMatchObject({ state: 'completed', result: 'run 2', attempt: 2, stalls: 0 });
    expect(signals[0]!.aborted).toBe(true);
    release();
    await sleep(50);
    // The old run's late result changed nothing, and nothing ran a third time.
    expect(await q.getJob(added.id)).toMatchObject({ state: 'completed', result: 'run 2', attempt: 2 });
    expect(job.history.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'cancelled'],
      [2, 'completed'],
    ]);
    expect(signals).toHaveLength(2);
    expect(worker.activeCount).toBe(0);
  });

  it('close() during a claim under way puts what it took back, and runs none of it', async () => {
    const store = sundial.store;
    let enterClaim!: () => void;
    const claimEntered = new Promise<void>((resolve) => {
      enterClaim = resolve;
    });
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const slow = createSundial({
      store: interpose(store, {
        finishAndClaim: async (outcomes, claim) => {
          if (claim) {
            enterClaim();
            await gate;
          }
          return store.finishAndClaim(outcomes, claim);
        },
      }),
    });
    const q = sundial.queue('q');
    const added = await q.add('n');
    let ran = 0;
    const worker = slow.worker('q', { n: async () => ran++ });
    await claimEntered;
    const closed = worker.close({ graceMs: 5000 });
    openGate();
    await closed;
    expect(ran).toBe(0);
    const job = (await q.getJob(added.id))!;
    expect(job).toMatchObject({ state: 'waiting', leaseOwner: null });
    expect(job.history.map((h) => h.outcome)).toEqual(['released']);
  });

  it('keeps working when the store refuses one outcome, which ends dead saying why', async () => {
    const store = sundial.store;
    const poisoned = (outcome: JobOutcome) =>
      outcome.kind === 'completed' && outcome.result.includes('poison');
    const refusing = createSundial({
      store: interpose(store, {
        finishAndClaim: (outcomes, claim) =>
          outcomes.some(poisoned)
            ? Promise.reject(new Error('cannot store that'))
            : store.finishAndClaim(outcomes, claim),
        finishJobs: (outcomes) =>
          outcomes.some(poisoned)
            ? Promise.reject(new Error('cannot store that'))
            : store.finishJobs(outcomes),
      }),
    });
    const errors: unknown[] = [];
    refusing.on('error', ({ error }) => errors.push(error));
    refusing.worker('q', { echo: async (text: string) => text }, { concurrency: 1 });
    const q = sundial.queue('q');
    const [bad, ...good] = await q.addBulk(
      ['poison', 'a', 'b', 'c'].map((text) => ({ name: 'echo', payload: text })),
    );
    for (const job of good) expect(await settled(job.id)).toMatchObject({ state: 'completed' });
    const dead = await settled(bad!.id);
    expect(dead).toMatchObject({
      state: 'dead',
      deadLetter: { reason: 'unrecoverable' },
      error: { category: 'unserializable' },
    });
    expect(dead.error!.message).toContain('cannot store that');
    expect(errors.length).toBeGreaterThan(0);
    await refusing.close();
  });

  it('a listener that throws does not stop jobs from running or finishing', async () => {
    const errors: string[] = [];
    sundial.on('error', ({ context }) => errors.push(context));
    sundial.once('job.started', () => {
      throw new Error('listener bug');
    });
    sundial.on('job.completed', () => {
      throw new Error('another listener bug');
    });
    sundial.worker('q', { n: async (i: number) => i * 2 });
    const jobs = await sundial.queue('q').addBulk([1, 2, 3].map((i) => ({ name: 'n', payload: i })));
    for (const job of jobs) expect((await settled(job.id)).result).toBe(job.payload * 2);
    expect(errors).toContain('a listener of job.started');
    expect(errors).toContain('a listener of job.completed');
  });

  it('clamps a retry delay too large to store, and goes on with other jobs', async () => {
    sundial.worker('q', {
      forever: { handle: () => Promise.reject(new Error('later')), backoff: () => Number.POSITIVE_INFINITY },
      fine: async () => 'ok',
    });
    const q = sundial.queue('q');
    const forever = await q.add('forever', null, { attempts: 2 });
    await waitFor(async () => (await q.getJob(forever.id))?.state === 'failed');
    expect((await q.getJob(forever.id))!.runAt).toBe(MAX_RUN_AT);
    const fine = await q.add('fine');
    expect((await settled(fine.id)).state).toBe('completed');
  });

  it('close() waits for running jobs to finish', async () => {
    const stopped = record('worker.stopped');
    const worker = sundial.worker('q', { n: () => sleep(100).then(() => 'done') });
    const added = await sundial.queue('q').add('n');
    await waitFor(() => worker.activeCount === 1);
    await worker.close({ graceMs: 5000 });
    expect((await sundial.queue('q').getJob(added.id))!.state).toBe('completed');
    expect(stopped).toEqual([{ worker: worker.id, queue: 'q', released: 0 }]);
  });

  it('close() releases jobs still running after the grace period back to waiting', async () => {
    let signal: AbortSignal | undefined;
    const worker = sundial.worker('q', {
      stuck: (_p, ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
    });
    const added = await sundial.queue('q').add('stuck');
    await waitFor(() => worker.activeCount === 1);
    await worker.close({ graceMs: 50 });
    expect(signal!.aborted).toBe(true);
    const job = (await sundial.queue('q').getJob(added.id)) as Job;
    expect(job).toMatchObject({ state: 'waiting', leaseOwner: null });
    expect(job.history).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'released', worker: worker.id }),
    ]);
    // Another worker picks it up.
    sundial.worker('q', { stuck: async () => 'freed' });
    expect(await settled(added.id)).toMatchObject({ state: 'completed', result: 'freed', attempt: 2 });
  });

  it('refuses bad options and handlers, naming the field', () => {
    expect(() => sundial.worker('q', { n: async () => 1 }, { concurency: 5 } as never)).toThrow(
      /Invalid options\.concurency: 5 \(not a worker option/,
    );
    expect(() => sundial.worker('q', { n: async () => 1 }, { leaseMs: 1000, heartbeatMs: 900 })).toThrow(
      'Invalid options.heartbeatMs: 900 (a whole number from 10 to 500)',
    );
    expect(() => sundial.worker('q', { n: async () => 1 }, { concurrency: 0 })).toThrow(InvalidOptionError);
    expect(() => sundial.worker('q', { n: async () => 1 }, { concurrency: 0 })).toThrow(
      'Invalid options.concurrency: 0 (a whole number from 1 to 10000)',
    );
    expect(() => sundial.worker('q', { n: 'not a function' } as never)).toThrow(
      /Invalid handlers\.n: "not a function"/,
    );
    expect(() => sundial.worker('q', { n: { handle: () => 1, isPermanent: true } } as never)).toThrow(
      /Invalid handlers\.n\.isPermanent: true/,
    );
  });
});
