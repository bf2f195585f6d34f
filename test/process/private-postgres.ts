import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A PostgreSQL server of the test's own, in a temp folder on a free loopback port, so a test can
 * restart it without disturbing the shared server other tests use. Runs as the `postgres` user
 * (the server refuses root) with trust authentication for a superuser named like ours (`root`).
 */
export interface PrivatePostgres {
  url: string;
  restart(): void;
  /**
   * Kills the server as a crash would (immediate stop: nothing it holds in memory reaches the disk,
   * the WAL it has not written among it), then starts it again, which replays the WAL.
   */
  crash(): void;
  stop(): void;
}

/** Where the server's programs are, or null when PostgreSQL is not installed here. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const version = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version ? join(root, version, 'bin') : null;
}

/** `settings`: server settings (`-c name=value`) beyond the defaults. */
export async function startPrivatePostgres(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed under /usr/lib/postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'sundial-pg-'));
  chmodSync(dir, 0o755);
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const asPostgres = (program: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { stdio: 'pipe' });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'root', '--no-sync']);
  // Without fsync a crash of the server (not of the machine) still keeps every WAL write it made.
  const options = [
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`),
  ].join(' ');
  const pgCtl = (...args: string[]) =>
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', ...args]);
  pgCtl('start');
  return {
    url: `postgres://root@127.0.0.1:${port}/postgres`,
    restart: () => pgCtl('restart', '-m', 'fast'),
    crash: () => {
      pgCtl('stop', '-m', 'immediate');
      pgCtl('start');
    },
    stop: () => {
      try {
        pgCtl('stop', '-m', 'immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
