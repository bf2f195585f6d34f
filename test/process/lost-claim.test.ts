import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSundial,
  type Job,
  PostgresStore,
  RedisStore,
  type Store,
  type Sundial,
} from '../../src/index.ts';
import { scriptsFor } from '../../src/store/redis/scripts.ts';
import { engineUnderTest, POSTGRES_URL, REDIS_URL } from '../conformance/servers.ts';
import { waitFor } from '../helpers.ts';
import { dropNamespace } from './children.ts';
import { type CuttingProxy, startCuttingProxy } from './cutting-proxy.ts';

/**
 * A claim carried out by the server whose answer never reached the worker (the connection cut
 * between the two, here by a proxy that drops the reply): the worker finds, once it can, the job
 * the store says it holds and it does not, and gives it back at once; the job runs, with no stall
 * counted. SQLite has no connection to lose.
 */
const engines: ('postgres' | 'redis')[] = [];
if (await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432)) engines.push('postgres');
if (await engineUnderTest('Redis', REDIS_URL, 6379)) engines.push('redis');

describe.each(engines)('a claim whose answer is lost on %s', (engine) => {
  const namespace = `sundial_lost_${randomBytes(4).toString('hex')}`;
  let proxy: CuttingProxy | null = null;
  const opened: Sundial[] = [];
  afterEach(async () => {
    for (const sundial of opened.splice(0)) await sundial.close({ graceMs: 0 });
    await proxy?.close();
    const url = engine === 'postgres' ? POSTGRES_URL : REDIS_URL;
    await dropNamespace(engine, { SUNDIAL_URL: url, SUNDIAL_NAMESPACE: namespace });
  });

  /** A store of the test's namespace, straight to the server or through `port`. */
  function store(port?: number, handoff = false): Store {
    const url = new URL(engine === 'postgres' ? POSTGRES_URL : REDIS_URL);
    if (port !== undefined) url.port = String(port);
    return engine === 'postgres'
      ? new PostgresStore({ connectionString: url.href, schema: namespace, handoff })
      : new RedisStore({ url: url.href, prefix: namespace, handoff, onError() {} });
  }

  /** Whether a request is the worker's claim: its statement or script, with the worker's id. */
  function isClaimBy(owner: string): (request: Buffer) => boolean {
    const claimScript = scriptsFor(false).get('finishAndClaim').sha;
    return (request) => {
      const text = request.toString('latin1');
      if (!text.includes(owner)) return false;
      return engine === 'postgres' ? /:claim|:finish-and-claim/.test(text) : text.includes(claimScript);
    };
  }

  async function startProxy(): Promise<CuttingProxy> {
    const { hostname, port } = new URL(engine === 'postgres' ? POSTGRES_URL : REDIS_URL);
    proxy = await startCuttingProxy({
      host: hostname,
      port: Number(port || (engine === 'postgres' ? 5432 : 6379)),
    });
    return proxy;
  }

  /** The job once completed. */
  function completed(sundial: Sundial, id: string): Promise<Job> {
    return waitFor(
      async () => {
        const now = await sundial.queue('q').getJob(id);
        return now?.state === 'completed' ? now : null;
      },
      { timeoutMs: 20_000, message: 'the job to complete' },
    );
  }

  it('releases the job at once, without a stall, and it runs', async () => {
    const proxy = await startProxy();
    // Handoff off: the job must come to the worker by a claim, the request this test cuts.
    const producer = createSundial({ store: store() });
    const working = createSundial({ store: store(proxy.port) });
    opened.push(producer, working);
    await producer.init();
    await working.init();
    const ran: string[] = [];
    // A long lease: recovery by its expiry (a stall) would come far too late for this test.
    const worker = working.worker(
      'q',
      { n: (_payload, { job }) => void ran.push(job.id) },
      {
        leaseMs: 120_000,
        stalledCheckMs: 3_600_000,
        pollMs: 200,
      },
    );
    await waitFor(() => worker.isRunning);
    // Let its start-up claim go by, then cut the answer to the next one.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cut = proxy.cutReplyTo(isClaimBy(worker.id));
    const job = await producer.queue('q').add('n');
    await cut;
    const done = await completed(producer, job.id);
    expect(done.stalls).toBe(0);
    expect(done.history.map((record) => [record.attempt, record.outcome, record.worker])).toEqual([
      [1, 'released', worker.id],
      [2, 'completed', worker.id],
    ]);
    expect(ran).toEqual([job.id]);
    expect((await producer.queue('q').counts()).active).toBe(0);
  });

  it('releases a job handed to it whose message was lost, once its listening connection is back', async () => {
    const proxy = await startProxy();
    const producer = createSundial({ store: store(undefined, true) });
    const working = createSundial({ store: store(proxy.port, true) });
    opened.push(producer, working);
    await producer.init();
    await working.init();
    const worker = working.worker(
      'q',
      { n: () => 'ran' },
      { leaseMs: 120_000, stalledCheckMs: 3_600_000, pollMs: 200 },
    );
    // Wait for its offer: the next add hands it the job, over its listening connection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The handed job travels on the worker's own channel: PostgreSQL's sundial_hand_<pid>, Redis's hand:<worker>.
    const cut = proxy.cutWhenServerSends((message) => {
      const text = message.toString('latin1');
      return engine === 'postgres' ? text.includes('sundial_hand_') : text.includes(`hand:${worker.id}`);
    });
    const job = await producer.queue('q').add('n');
    await cut;
    const done = await completed(producer, job.id);
    expect(done.stalls).toBe(0);
    expect(done.history.map((record) => [record.attempt, record.outcome])).toEqual([
      [1, 'released'],
      [2, 'completed'],
    ]);
  });
});
