import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { freePort } from './free-port.ts';
import { startRedisServer } from './redis-server.ts';

/**
 * A Redis server of the test's own, on a free loopback port, with AOF persistence (every write
 * fsynced), so a test can restart it without disturbing the shared server other tests use.
 */
export interface PrivateRedis {
  url: string;
  /** Its data folder (the AOF is in `appendonlydir/`). */
  dir: string;
  restart(): Promise<void>;
  stop(): void;
}

export function redisServerInstalled(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether tests that start Redis servers of their own (a Cluster) can run. When `redis-server` is
 * missing they are skipped on a developer's machine, but under `CI=true` a test fails in their
 * place: CI installs it, so its absence is a broken setup, not a reason to test less.
 */
export function redisServerForTests(what: string): boolean {
  if (redisServerInstalled()) return true;
  if (process.env.CI === 'true') {
    it(`can start redis-server for ${what}`, () => {
      throw new Error('redis-server is not installed; CI must install it (.ci/services.sh)');
    });
  }
  return false;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-redis-'));
  const args = (port: number) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
  ];
  let port = 0;
  let server: ChildProcess | null = null;
  // Another test file's server may take the free port before ours binds it: then try other ports.
  for (let attempt = 1; server === null; attempt++) {
    port = await freePort();
    server = await startRedisServer(args(port), port);
    if (server === null && attempt === 5) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port} (5 tries)`);
    }
  }
  const halt = async () => {
    const running = server;
    server = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM'); // a clean shutdown: the AOF is complete on disk
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    restart: async () => {
      await halt();
      // The same port, which the clients know: if another test's server took it meanwhile, fail.
      server = await startRedisServer(args(port), port);
      if (server === null) throw new Error(`redis-server did not start again on port ${port}`);
    },
    stop: () => {
      server?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
