/**
 * graphile-worker on PostgreSQL, with the configuration its performance page
 * (worker.graphile.org/docs/performance) gives for its published figures:
 *
 * - `localQueue: { size: 500 }`: the pool fetches and locks up to 500 jobs at once and hands them to
 *   its workers without a round trip each;
 * - `completeJobBatchDelay: 0`, `failJobBatchDelay: 0`: completions and failures that happen in the
 *   same tick go to the database in one statement;
 * - `maxPoolSize` = concurrency + 2, as its option docs advise ("10 or concurrentJobs + 2, whichever
 *   is larger").
 *
 * New jobs wake the workers by LISTEN/NOTIFY (always on in graphile-worker), so `pollInterval` (for
 * future-dated jobs and retries) stays at its default.
 */
import { QUEUE } from '../fixtures.ts';
import { loadPackage } from './load.ts';
import type { Peer, PeerTarget } from './peer.ts';

const LOCAL_QUEUE_SIZE = 500;

/** The few graphile-worker calls the bench makes, typed here so the type check does not need it. */
interface WorkerUtils {
  addJob(identifier: string, payload: object): Promise<unknown>;
  addJobs(specs: { identifier: string; payload: object }[]): Promise<unknown>;
  withPgClient<T>(
    work: (client: { query(text: string): Promise<{ rows: { n: number }[] }> }) => Promise<T>,
  ): Promise<T>;
  migrate(): Promise<void>;
  release(): Promise<void>;
}
interface Runner {
  stop(): Promise<void>;
}
interface GraphileWorker {
  makeWorkerUtils(options: object): Promise<WorkerUtils>;
  run(options: object): Promise<Runner>;
  Logger: new (factory: (scope: object) => (level: string, message: string) => void) => object;
}

/** The job identifier (graphile's task name); the bench queue is the whole jobs table of the schema. */
const TASK = QUEUE;

/** Only errors: its info lines ("Worker connected…") would interleave with the bench's progress. */
function quietLogger(graphile: GraphileWorker): object {
  return new graphile.Logger(() => (level, message) => {
    if (level === 'error') console.error(`graphile-worker: ${message}`);
  });
}

async function utils(graphile: GraphileWorker, target: PeerTarget): Promise<WorkerUtils> {
  const workerUtils = await graphile.makeWorkerUtils({
    connectionString: target.url,
    schema: target.namespace,
    logger: quietLogger(graphile),
  });
  await workerUtils.migrate(); // creates the schema on first use
  return workerUtils;
}

/** Jobs not yet finished: graphile-worker deletes a job when it completes. */
function unfinished(workerUtils: WorkerUtils, schema: string): Promise<number> {
  return workerUtils.withPgClient(async (client) => {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}"._private_jobs`);
    return Number(rows[0]?.n);
  });
}

export const graphileWorker: Peer = {
  id: 'graphile-worker',
  name: 'graphile-worker',
  backend: 'postgres',
  packages: ['graphile-worker', 'pg'],
  settings: {
    W1: 'addJob() from WorkerUtils, pool 10 (default)',
    W2: 'addJobs() from WorkerUtils',
    W3: `concurrency 50, localQueue.size ${LOCAL_QUEUE_SIZE}, completeJobBatchDelay 0, failJobBatchDelay 0, maxPoolSize 52, LISTEN/NOTIFY`,
    W4: `concurrency 50, localQueue.size ${LOCAL_QUEUE_SIZE}, completeJobBatchDelay 0, failJobBatchDelay 0, maxPoolSize 52, LISTEN/NOTIFY`,
  },

  async producer(target) {
    const graphile = await loadPackage<GraphileWorker>('graphile-worker');
    const workerUtils = await utils(graphile, target);
    return {
      add: (payload) => workerUtils.addJob(TASK, payload),
      addBulk: (payloads) => workerUtils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload }))),
      unfinished: () => unfinished(workerUtils, target.namespace),
      close: () => workerUtils.release(),
    };
  },

  async consumer(target, { concurrency }, handler) {
    const graphile = await loadPackage<GraphileWorker>('graphile-worker');
    // Migrated and connected before the timed part; run() itself starts taking jobs at once.
    const workerUtils = await utils(graphile, target);
    let runner: Runner | null = null;
    return {
      async start() {
        runner = await graphile.run({
          taskList: {
            [TASK]: async (payload: unknown) => {
              handler(payload);
            },
          },
          noHandleSignals: true,
          logger: quietLogger(graphile),
          preset: {
            worker: {
              connectionString: target.url,
              schema: target.namespace,
              concurrentJobs: concurrency,
              maxPoolSize: Math.max(10, concurrency + 2),
              localQueue: { size: LOCAL_QUEUE_SIZE },
              completeJobBatchDelay: 0,
              failJobBatchDelay: 0,
            },
          },
        });
      },
      unfinished: () => unfinished(workerUtils, target.namespace),
      async close() {
        await runner?.stop();
        await workerUtils.release();
      },
    };
  },
};
