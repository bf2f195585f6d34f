/**
 * Servers of the soak's own, started for one run and removed at its end, so their settings are
 * known (durable commits, autovacuum as asked) and nobody else's work shares them: a PostgreSQL
 * cluster or a redis-server in a temp folder on a free loopback port. (test/process has similar
 * helpers for the restart tests; those run without fsync, which a soak must not.)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface PrivateServer {
  url: string;
  /** The settings it was started with, kept beside the figures. */
  settings: Record<string, string>;
  /** The server's main process: PostgreSQL's postmaster, or the redis-server. */
  pid(): number | null;
  /** Stops it and removes its folder. Synchronous, so it can run in an `exit` handler too. */
  stop(): void;
}

/** A loopback port nothing listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The newest PostgreSQL's programs, as Debian installs them. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (!version) throw new Error('PostgreSQL is not installed under /usr/lib/postgresql');
  return join(root, version, 'bin');
}

/**
 * A PostgreSQL cluster run as the `postgres` user (the server refuses root), trust authentication
 * for a superuser `root`, fsync on, `autovacuum` as given, WAL flush timing tracked (pg_stat_wal)
 * so a run can tell how much of its time went to the disk, and pg_stat_statements loaded; `extra`
 * settings on top.
 */
export async function startPostgres(
  autovacuum: boolean,
  extra: Record<string, string>,
): Promise<PrivateServer> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'sundial-soak-pg-'));
  chmodSync(dir, 0o755);
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
  const data = join(dir, 'data');
  const asPostgres = (program: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { stdio: 'pipe' });
  try {
    // --no-sync only spares initdb's own flush of the new files; the server runs with fsync on.
    asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'root', '--no-sync']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const settings: Record<string, string> = {
    fsync: 'on',
    synchronous_commit: 'on',
    autovacuum: autovacuum ? 'on' : 'off',
    track_wal_io_timing: 'on',
    // Which statements the server spent its time on, read at the end of the run (probes.ts).
    shared_preload_libraries: 'pg_stat_statements',
    ...extra,
  };
  const pgCtl = (port: number, ...args: string[]) => {
    const options = [
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`),
    ].join(' ');
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', ...args]);
  };
  // Another process may take the free port before the server binds it: then try another.
  let port = 0;
  for (let attempt = 1; port === 0; attempt++) {
    const candidate = await freePort();
    try {
      pgCtl(candidate, 'start');
      port = candidate;
    } catch (error) {
      if (attempt === 3) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`the private PostgreSQL did not start: ${String(error)}`);
      }
    }
  }
  let stopped = false;
  return {
    url: `postgres://root@127.0.0.1:${port}/postgres`,
    settings,
    pid: () => {
      try {
        return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        return null;
      }
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl(port, 'stop', '-m', 'immediate');
      } catch {
        // Already gone; the folder goes all the same.
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A redis-server with AOF on and fsynced once a second (`appendfsync everysec`, the setting the
 * README recommends), no RDB snapshots and `noeviction`, as a production queue would run.
 */
export async function startRedis(): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-soak-redis-'));
  const settings: Record<string, string> = {
    appendonly: 'yes',
    appendfsync: 'everysec',
    save: '',
    'maxmemory-policy': 'noeviction',
  };
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
    for (const [name, value] of Object.entries(settings)) args.push(`--${name}`, value);
    const server = spawn('redis-server', args, { stdio: 'ignore' });
    if (await answers(server, port)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        settings,
        pid: () => server.pid ?? null,
        stop: () => {
          server.kill('SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    server.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server did not start (3 tries)');
}

/** Whether `server` is up and it is the one answering on `port` (another may have taken it). */
async function answers(server: ChildProcess, port: number): Promise<boolean> {
  for (let tries = 0; tries < 100; tries++) {
    if (server.exitCode !== null || server.signalCode !== null) return false;
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      const info = await redis.info('server');
      return new RegExp(`process_id:${server.pid}\\b`).test(info);
    } catch {
      await sleep(50);
    } finally {
      redis.disconnect();
    }
  }
  return false;
}
