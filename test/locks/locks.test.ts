import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock, FileLockEngine, type LockEngine, LockProvider, SqliteStore } from '../../src/index.ts';
import { tempDir, waitFor } from '../helpers.ts';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

const engines: [string, (dir: string) => { engine: LockEngine; close: () => Promise<void> }][] = [
  [
    'the store',
    (dir) => {
      const store = new SqliteStore({ path: join(dir, 'locks.db') });
      return { engine: store, close: () => store.close() };
    },
  ],
  ['files', (dir) => ({ engine: new FileLockEngine(join(dir, 'locks')), close: async () => {} })],
];

describe.each(engines)('locks kept in %s', (_name, makeEngine) => {
  let dir: ReturnType<typeof tempDir>;
  let engine: LockEngine;
  let close: () => Promise<void>;
  let clock: FakeClock;
  let provider: LockProvider;

  beforeEach(() => {
    dir = tempDir();
    ({ engine, close } = makeEngine(dir.path));
    clock = new FakeClock(Date.UTC(2026, 0, 1));
    provider = new LockProvider(engine, { clock });
  });
  afterEach(async () => {
    provider.close();
    await close();
    dir.cleanup();
  });

  it('hands a lock to one holder at a time, recording who holds it', async () => {
    const held = await provider.acquire('backup', { ttlMs: 60_000, runId: 'run-1' });
    expect(held).toMatchObject({ name: 'backup', token: 1 });
    expect(await provider.acquire('backup')).toBeNull();
    const [record] = await provider.list();
    expect(record).toMatchObject({
      name: 'backup',
      token: 1,
      ttlMs: 60_000,
      owner: { pid: process.pid, runId: 'run-1' },
    });
    await held!.release();
    expect(await provider.list()).toEqual([]);
    expect((await provider.acquire('backup'))!.token).toBe(2);
  });

  it('reclaims a lock whose heartbeat is older than its TTL, with a higher fencing token', async () => {
    const stale = await engine.acquireLock({
      name: 'sync',
      owner: { host: 'another-host', pid: 1, runId: 'r' },
      ttlMs: 1000,
      now: clock.now(),
    });
    expect(await provider.acquire('sync')).toBeNull();
    clock.advance(1001);
    const held = await provider.acquire('sync');
    expect(held!.token).toBe(stale!.token + 1);
  });

  it('reclaims at once a lock whose owner is a dead process on this host', async () => {
    const pid = deadPid();
    const { hostname } = await import('node:os');
    await engine.acquireLock({
      name: 'task:report',
      owner: { host: hostname(), pid, runId: 'r' },
      ttlMs: 3_600_000,
      now: clock.now(),
    });
    const held = await provider.acquire('task:report');
    expect(held).not.toBeNull();
    expect(held!.token).toBe(2);
  });

  it('keeps a held lock alive by heartbeat, and tells the holder when it is cleared', async () => {
    const realClock = new LockProvider(engine);
    const held = (await realClock.acquire('long', { ttlMs: 90 }))!;
    await new Promise((resolve) => setTimeout(resolve, 200)); // longer than the TTL: heartbeats kept it
    expect(held.signal.aborted).toBe(false);
    expect(await realClock.acquire('long')).toBeNull();
    expect(await realClock.forceRelease('long')).toBe(true);
    await waitFor(() => held.signal.aborted, { message: 'the holder to learn it lost the lock' });
    realClock.close();
  });
});
