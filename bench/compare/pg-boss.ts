/**
 * pg-boss on PostgreSQL, with the settings its documentation gives for the lowest latency and the
 * most throughput (pg-boss 12, types.d.ts of `ConstructorOptions`, `Queue` and `WorkOptions`):
 *
 * - `useListenNotify: true` on the instance and `notify: true` on the queue: a job's insert sends a
 *   NOTIFY in its transaction and wakes the workers at once instead of after a poll;
 * - `pollingIntervalSeconds: 0.5`, the smallest allowed, for the poll that remains;
 * - one worker fetching `batchSize: 50` (the bench's concurrency 50) with `burstWhenBatchFull`, so
 *   while a fetch comes back full it fetches again at once. With `batchSize: 1` a worker waits out
 *   the polling interval after every job it finishes, which caps 50 such workers near 100 jobs/s.
 */
import { QUEUE } from '../fixtures.ts';
import { loadPackage } from './load.ts';
import type { Peer, PeerTarget } from './peer.ts';

/** The few pg-boss calls the bench makes, typed here so the type check does not need the package. */
interface PgBoss {
  start(): Promise<unknown>;
  stop(options: { graceful?: boolean; timeout?: number; close?: boolean }): Promise<void>;
  createQueue(name: string, options: object): Promise<void>;
  send(name: string, data: object): Promise<string | null>;
  insert(name: string, jobs: { data: object }[]): Promise<unknown>;
  work(name: string, options: object, handler: (jobs: { data: unknown }[]) => Promise<void>): Promise<string>;
  getDb(): { executeSql(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> };
  on(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgBossModule {
  PgBoss: new (options: object) => PgBoss;
}

const POLLING_INTERVAL_SECONDS = 0.5;

async function open(target: PeerTarget): Promise<PgBoss> {
  const { PgBoss } = await loadPackage<PgBossModule>('pg-boss');
  const boss = new PgBoss({ connectionString: target.url, schema: target.namespace, useListenNotify: true });
  boss.on('error', (error) => console.error('pg-boss:', error));
  await boss.start(); // creates the schema on first use
  return boss;
}

async function unfinished(boss: PgBoss, schema: string): Promise<number> {
  const { rows } = await boss
    .getDb()
    .executeSql(
      `SELECT count(*)::int AS n FROM "${schema}".job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
      [QUEUE],
    );
  return Number(rows[0]?.n);
}

export const pgBoss: Peer = {
  id: 'pg-boss',
  name: 'pg-boss',
  backend: 'postgres',
  packages: ['pg-boss', 'pg'],
  settings: {
    W1: 'send(), pool 10 (default), queue notify: true',
    W2: 'insert(), queue notify: true',
    W3: `work() batchSize 50, localConcurrency 1, burstWhenBatchFull, useListenNotify + queue notify, pollingIntervalSeconds ${POLLING_INTERVAL_SECONDS}`,
    W4: `work() batchSize 50, localConcurrency 1, burstWhenBatchFull, useListenNotify + queue notify, pollingIntervalSeconds ${POLLING_INTERVAL_SECONDS}`,
  },

  async producer(target) {
    const boss = await open(target);
    await boss.createQueue(QUEUE, { notify: true });
    return {
      add: (payload) => boss.send(QUEUE, payload),
      addBulk: (payloads) =>
        boss.insert(
          QUEUE,
          payloads.map((data) => ({ data })),
        ),
      unfinished: () => unfinished(boss, target.namespace),
      close: () => boss.stop({ graceful: false, close: true }),
    };
  },

  async consumer(target, { concurrency }, handler) {
    const boss = await open(target);
    // The producer made the queue; making it again here is a no-op, and it is what a worker must
    // know before work() (pg-boss refuses to work a queue that does not exist).
    await boss.createQueue(QUEUE, { notify: true });
    return {
      async start() {
        await boss.work(
          QUEUE,
          {
            batchSize: concurrency,
            localConcurrency: 1,
            burstWhenBatchFull: true,
            pollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
            notifyPollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
          },
          async (jobs) => {
            for (const job of jobs) handler(job.data);
          },
        );
      },
      unfinished: () => unfinished(boss, target.namespace),
      close: () => boss.stop({ graceful: true, timeout: 2_000, close: true }),
    };
  },
};
