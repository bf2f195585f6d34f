/**
 * Which store a bench run works on, and a fresh, empty namespace on it for every run: a temp SQLite
 * file, a new PostgreSQL schema (dropped afterwards) or a new Redis key prefix (its keys deleted
 * afterwards). The peers in bench/compare use the same namespaces, so every contender starts each
 * run from nothing and pays for no earlier run's rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  AT_RISK_CODE,
  PostgresStore,
  RedisStore,
  type SqliteStoreOptions,
  type Store,
  UNCHECKED_CODE,
} from '../src/index.ts';

export const STORE_KINDS = ['sqlite', 'postgres', 'redis'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** The servers; the same defaults as the conformance tests, overridable for another machine. */
export const POSTGRES_URL = process.env.SUNDIAL_BENCH_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const REDIS_URL = process.env.SUNDIAL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Where one run keeps its data. Plain JSON, so a worker process is told the store in its spawn
 * message and opens the same namespace the bench filled.
 */
export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema: string; maintenanceVacuumMs?: number }
  | { kind: 'redis'; url: string; prefix: string };

/**
 * Every namespace name starts with this and our pid, so a later bench can tell the leftovers of a
 * bench that was killed (its pid gone) from those of one still running beside it.
 */
const NAME_PREFIX = 'sbench_';
const LEFTOVER = /sbench_(\d+)_\d+/;
let sequence = 0;

/** A namespace name no other run uses: a PostgreSQL schema name and a Redis key prefix alike. */
export function namespaceName(tag: string): string {
  sequence++;
  return `${NAME_PREFIX}${process.pid}_${sequence}_${tag.replace(/[^a-z0-9]/g, '')}`;
}

/** What a Sundial in the bench or a worker process opens for `spec`. */
export function openStore(spec: StoreSpec): Store | SqliteStoreOptions {
  switch (spec.kind) {
    case 'sqlite':
      return { path: spec.path };
    case 'postgres':
      // The default pool (10) and durable commits: the engine as a user gets it.
      return new PostgresStore({
        connectionString: spec.url,
        schema: spec.schema,
        onError: reportStoreError,
        ...(spec.maintenanceVacuumMs ? { maintenanceVacuum: spec.maintenanceVacuumMs } : {}),
      });
    case 'redis':
      return new RedisStore({ url: spec.url, prefix: spec.prefix, onError: reportStoreError });
  }
}

/**
 * The Redis engine warns when the server may lose data (no persistence here, as with BullMQ's
 * runs): that says nothing about speed and would repeat every run, so it is left to `servers` in
 * the results. Anything else (a dropped connection) is printed, since it may explain a bad figure.
 */
function reportStoreError(error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === AT_RISK_CODE || code === UNCHECKED_CODE) return;
  console.error('store:', error);
}

/** Temp dirs and server namespaces of runs under way, so an interrupted bench can still remove them. */
const liveDirs = new Set<string>();
const liveNamespaces = new Map<string, 'postgres' | 'redis'>();

/**
 * Runs `work` on a fresh namespace of `kind` named for `tag` and removes it afterwards, whatever
 * `work` did. For SQLite the spec's file does not exist yet; on the servers nothing carries the name.
 */
export async function withNamespace<T>(
  kind: StoreKind,
  tag: string,
  work: (spec: StoreSpec) => Promise<T>,
): Promise<T> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
    liveDirs.add(dir);
    try {
      return await work({ kind, path: join(dir, 'sundial.db') });
    } finally {
      liveDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const name = namespaceName(tag);
  liveNamespaces.set(name, kind);
  try {
    return await work(
      kind === 'postgres'
        ? { kind, url: POSTGRES_URL, schema: name }
        : { kind, url: REDIS_URL, prefix: name },
    );
  } finally {
    await dropNamespace(kind, name);
    liveNamespaces.delete(name);
  }
}

/** Removes a PostgreSQL schema and all in it, or every Redis key that carries the prefix. */
export async function dropNamespace(kind: 'postgres' | 'redis', name: string): Promise<void> {
  if (kind === 'postgres') {
    await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`));
  } else {
    await withRedis((redis) => deleteKeys(redis, keyPattern(name)));
  }
}

/**
 * The keys of a namespace, as ours (`{name}:…`, `{name:queue}:…`) and BullMQ (`name:…`) spell them;
 * the `[:}]` after the name keeps `…_1` from matching `…_10`.
 */
function keyPattern(name: string): string {
  return `*${name}[:}]*`;
}

async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // UNLINK frees the memory in the background, so a big namespace does not stall the server.
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Removes the temp dirs of runs under way. Synchronous, so it is safe in an `exit` handler. */
export function removeTempDirs(): void {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

/** Drops the server namespaces of runs under way (for an interrupted bench), giving up after `ms`. */
export async function dropLiveNamespaces(ms = 5_000): Promise<void> {
  const drops = [...liveNamespaces].map(([name, kind]) => dropNamespace(kind, name).catch(() => {}));
  liveNamespaces.clear();
  await Promise.race([Promise.all(drops), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
}

/**
 * Drops what benches that no longer run left behind (killed before their own clean-up): schemas and
 * keys named for a pid that is gone. Those of a bench still running keep their data.
 */
export async function sweepLeftovers(kind: 'postgres' | 'redis'): Promise<number> {
  if (kind === 'postgres') {
    return withPostgres(async (client) => {
      const { rows } = await client.query<{ name: string }>(
        `SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'sbench\\_%'`,
      );
      const gone = rows.map((row) => row.name).filter(isLeftover);
      for (const name of gone) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      return gone.length;
    });
  }
  return withRedis(async (redis) => {
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${NAME_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const name = /sbench_\d+_\d+_[a-z0-9]*/.exec(key)?.[0];
        if (name && isLeftover(name)) names.add(name);
      }
    } while (cursor !== '0');
    for (const name of names) await deleteKeys(redis, keyPattern(name));
    return names.size;
  });
}

function isLeftover(name: string): boolean {
  const pid = Number(LEFTOVER.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false; // that bench is still running
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Runs `work` on a short-lived connection to the bench's PostgreSQL. */
export async function withPostgres<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` on a short-lived connection to the bench's Redis. */
export async function withRedis<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
  // No retries: a server that is not there should fail the check at once, not after a minute.
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // the failed command says it; no unhandled 'error' event
  await redis.connect();
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * What the server is and how durable its commits are, kept beside the figures: a PostgreSQL with
 * `synchronous_commit=off` or a Redis without persistence is faster and not the same promise.
 * Throws with a message fit for the user when the server does not answer.
 */
export async function describeServer(kind: 'postgres' | 'redis'): Promise<Record<string, string>> {
  if (kind === 'postgres') {
    try {
      return await withPostgres(async (client) => {
        const settings: Record<string, string> = { url: POSTGRES_URL };
        for (const name of ['server_version', 'synchronous_commit', 'fsync', 'shared_buffers']) {
          const { rows } = await client.query<Record<string, string>>(`SHOW ${name}`);
          settings[name] = String(Object.values(rows[0] ?? {})[0]);
        }
        return settings;
      });
    } catch (error) {
      throw new Error(
        `no PostgreSQL answers at ${POSTGRES_URL} (${errorText(error)}); start one or set SUNDIAL_BENCH_POSTGRES_URL`,
      );
    }
  }
  try {
    return await withRedis(async (redis) => {
      const info = await redis.info('server');
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
      const config = async (name: string) => ((await redis.config('GET', name)) as string[])[1] ?? '';
      return {
        url: REDIS_URL,
        redis_version: version,
        appendonly: await config('appendonly'),
        appendfsync: await config('appendfsync'),
        save: (await config('save')) || '(none)',
        'maxmemory-policy': await config('maxmemory-policy'),
      };
    });
  } catch (error) {
    throw new Error(
      `no Redis answers at ${REDIS_URL} (${errorText(error)}); start one or set SUNDIAL_BENCH_REDIS_URL`,
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
