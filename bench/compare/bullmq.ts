/**
 * BullMQ on Redis, with its defaults: they are already its fastest settings for these workloads (a
 * worker blocks on BZPOPMIN and is woken the moment a job arrives; there is no polling to tune).
 * Completed jobs are kept, as BullMQ does by default and as Sundial does.
 */
import { QUEUE } from '../fixtures.ts';
import { loadPackage } from './load.ts';
import type { Peer, PeerTarget } from './peer.ts';

/** The few BullMQ calls the bench makes, typed here so the type check does not need the package. */
interface BullQueue {
  add(name: string, data: object): Promise<unknown>;
  addBulk(jobs: { name: string; data: object }[]): Promise<unknown>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
interface BullWorker {
  run(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
interface BullMQ {
  Queue: new (name: string, options: object) => BullQueue;
  Worker: new (
    name: string,
    processor: (job: { data: unknown }) => Promise<void>,
    options: object,
  ) => BullWorker;
}

/** The job states that are not finished. */
const UNFINISHED = ['wait', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'];

/** BullMQ hands connection options to ioredis, which takes no URL among them: host and port from it. */
function connection(url: string): object {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username || undefined,
    password: parsed.password || undefined,
    db: Number(parsed.pathname.slice(1) || 0),
    // A worker's blocking connection must not give up on a slow reply; BullMQ asks for this.
    maxRetriesPerRequest: null,
  };
}

async function unfinished(queue: BullQueue): Promise<number> {
  const counts = await queue.getJobCounts(...UNFINISHED);
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function openQueue(bull: BullMQ, target: PeerTarget): BullQueue {
  return new bull.Queue(QUEUE, { connection: connection(target.url), prefix: target.namespace });
}

export const bullmq: Peer = {
  id: 'bullmq',
  name: 'BullMQ',
  backend: 'redis',
  packages: ['bullmq', 'ioredis'],
  settings: {
    W1: 'Queue.add(), defaults',
    W2: 'Queue.addBulk(), defaults',
    W3: 'Worker concurrency 50, defaults (blocking BZPOPMIN wake-ups, completed jobs kept)',
    W4: 'Worker concurrency 50, defaults (blocking BZPOPMIN wake-ups)',
  },

  async producer(target) {
    const bull = await loadPackage<BullMQ>('bullmq');
    const queue = openQueue(bull, target);
    await queue.waitUntilReady();
    return {
      add: (payload) => queue.add('job', payload),
      addBulk: (payloads) => queue.addBulk(payloads.map((data) => ({ name: 'job', data }))),
      unfinished: () => unfinished(queue),
      close: () => queue.close(),
    };
  },

  async consumer(target, { concurrency }, handler) {
    const bull = await loadPackage<BullMQ>('bullmq');
    const queue = openQueue(bull, target);
    // autorun off: connect now, take jobs only on start(), so the timed part is the work alone.
    const worker = new bull.Worker(
      QUEUE,
      async (job) => {
        handler(job.data);
      },
      { connection: connection(target.url), prefix: target.namespace, concurrency, autorun: false },
    );
    worker.on('error', (error) => console.error('BullMQ worker:', error));
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    return {
      async start() {
        // run() resolves only when the worker closes.
        worker.run().catch((error: unknown) => console.error('BullMQ worker:', error));
      },
      unfinished: () => unfinished(queue),
      async close() {
        await worker.close();
        await queue.close();
      },
    };
  },
};
