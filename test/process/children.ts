import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { createSundial, type Sundial } from '../../src/index.ts';
import { engineUnderTest, POSTGRES_URL, REDIS_URL } from '../conformance/servers.ts';
import { storeFromEnv } from '../fixtures/store-from-env.ts';
import { tempDir } from '../helpers.ts';
import { redisServerForTests } from './private-redis.ts';
import { startRedisCluster } from './redis-cluster.ts';

const WORKER = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
const SCHEDULER = fileURLToPath(new URL('../fixtures/scheduler-process.ts', import.meta.url));
const TASK_WORKER = fileURLToPath(new URL('../fixtures/task-worker-process.ts', import.meta.url));

export interface WorkerChild {
  process: ChildProcess;
  /** Job ids whose handler started in this child, in order. */
  started: string[];
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** Starts `test/fixtures/worker-process.ts` in a real Node process (the same Node as the tests). */
export function startWorker(env: Record<string, string | number>): WorkerChild {
  return startChild(WORKER, env);
}

/** Starts `test/fixtures/scheduler-process.ts` in a real Node process. */
export function startScheduler(env: Record<string, string | number>): WorkerChild {
  return startChild(SCHEDULER, env);
}

/** Starts `test/fixtures/<name>.ts` in a real Node process. */
export function startFixture(name: string, env: Record<string, string | number>): WorkerChild {
  return startChild(fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url)), env);
}

/** Starts `test/fixtures/task-worker-process.ts` in a real Node process. */
export function startTaskWorker(env: Record<string, string | number>): WorkerChild {
  return startChild(TASK_WORKER, env);
}

function startChild(script: string, env: Record<string, string | number>): WorkerChild {
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
  });
  children.add(child);
  const started: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: { type: string; jobId?: string }) => {
      if (message.type === 'ready') resolve();
      if (message.type === 'started') started.push(message.jobId ?? '');
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  ready.catch(() => {});
  return { process: child, started, ready, exited };
}

/** Kills whatever a failed test left running. */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/**
 * Per test: a fresh temp folder with a database path, a Sundial on it for the test to inspect, and
 * afterwards every child killed and everything removed. Call inside a `describe`.
 */
export function useSharedDatabase(file: string): {
  readonly db: string;
  readonly dir: string;
  readonly sundial: Sundial;
} {
  let dir: ReturnType<typeof tempDir>;
  let db = '';
  let sundial: Sundial;
  beforeEach(() => {
    dir = tempDir();
    db = join(dir.path, file);
    sundial = createSundial({ store: { path: db } });
  });
  afterEach(async () => {
    killAll();
    await sundial.close();
    dir.cleanup();
  });
  return {
    get db() {
      return db;
    },
    get dir() {
      return dir.path;
    },
    get sundial() {
      return sundial;
    },
  };
}

export type Engine = 'sqlite' | 'postgres' | 'redis' | 'redis-cluster';

/** The node URLs of the Redis Cluster this test file started, comma-separated. */
let clusterUrls = '';

/**
 * The engines whose servers answer (SQLite always); under CI a silent server is a failing test.
 * A Redis Cluster of three primaries is started for the file (and stopped after it) where
 * redis-server is installed.
 */
export async function enginesUnderTest(): Promise<Engine[]> {
  const engines: Engine[] = ['sqlite'];
  if (await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432)) engines.push('postgres');
  if (await engineUnderTest('Redis', REDIS_URL, 6379)) engines.push('redis');
  if (redisServerForTests('the Redis Cluster')) {
    const cluster = await startRedisCluster(3);
    afterAll(() => cluster.stop());
    clusterUrls = cluster.urls.join(',');
    engines.push('redis-cluster');
  }
  return engines;
}

/** Where a child finds the server of `engine`. */
export function serverUrl(engine: Exclude<Engine, 'sqlite'>): string {
  if (engine === 'postgres') return POSTGRES_URL;
  return engine === 'redis' ? REDIS_URL : clusterUrls;
}

/**
 * Per test: a store of `engine` of its own (a temp SQLite file, a fresh PostgreSQL schema or Redis
 * key prefix), the environment that points a child process at it (see `store-from-env.ts`), a
 * Sundial on it for the test to inspect, and afterwards every child killed and everything removed.
 */
export function useSharedStore(engine: Engine): {
  readonly env: Record<string, string>;
  readonly dir: string;
  readonly sundial: Sundial;
} {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string> = {};
  let sundial: Sundial;
  beforeEach(() => {
    dir = tempDir();
    const namespace = `sundial_proc_${randomBytes(5).toString('hex')}`;
    env =
      engine === 'sqlite'
        ? { SUNDIAL_STORE: 'sqlite', SUNDIAL_DB: join(dir.path, 'shared.db') }
        : {
            SUNDIAL_STORE: engine,
            SUNDIAL_URL: serverUrl(engine),
            SUNDIAL_NAMESPACE: namespace,
          };
    sundial = createSundial({ store: storeFromEnv(env) });
  });
  afterEach(async () => {
    killAll();
    await sundial.store.init().catch(() => {});
    await sundial.close();
    await dropNamespace(engine, env);
    dir.cleanup();
  });
  return {
    get env() {
      return env;
    },
    get dir() {
      return dir.path;
    },
    get sundial() {
      return sundial;
    },
  };
}

/** Removes what a test left in a shared server: its PostgreSQL schema, or its Redis keys. */
export async function dropNamespace(engine: Engine, env: Record<string, string>): Promise<void> {
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: env.SUNDIAL_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${env.SUNDIAL_NAMESPACE}" CASCADE`);
    await admin.end();
  } else if (engine === 'redis') {
    // (A Cluster's keys go with the Cluster, at the end of the file.)
    const { Redis } = await import('ioredis');
    const redis = new Redis(env.SUNDIAL_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${env.SUNDIAL_NAMESPACE}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}
