import { describe, expect, it } from 'vitest';
import { type StoreHarness, T0, useStoreUnderTest } from './conformance-helpers.ts';

/** The role of locks and flags (LockStore, FlagStore): the same observable behaviour on every engine. */
export function describeLockConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`lock conformance: ${engine}`, () => {
    const { store, current } = useStoreUnderTest(makeStore);

    const _claim = (limit = 10, now = T0, owner = 'w1', queue = 'q') =>
      store.claimJobs({ queue, owner, limit, now, leaseExpiresAt: now + 30_000 });

    describe('locks', () => {
      const owner = (pid: number) => ({ host: 'h', pid, runId: `run-${pid}` });

      it('grants a free lock with a growing fencing token, and refuses a held one', async () => {
        const first = await store.acquireLock({ name: 'backup', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(first).toMatchObject({
          name: 'backup',
          owner: owner(1),
          token: 1,
          acquiredAt: T0,
          heartbeatAt: T0,
          ttlMs: 1000,
        });
        expect(
          await store.acquireLock({ name: 'backup', owner: owner(2), ttlMs: 1000, now: T0 + 500 }),
        ).toBeNull();
        expect(await store.releaseLock('backup', 1)).toBe(true);
        const second = await store.acquireLock({
          name: 'backup',
          owner: owner(2),
          ttlMs: 1000,
          now: T0 + 600,
        });
        expect(second!.token).toBe(2);
      });

      it('lets anyone take a lock whose heartbeat is older than its TTL; the old token can no longer renew', async () => {
        await store.acquireLock({ name: 'l', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(await store.renewLock('l', 1, T0 + 900)).toBe(true);
        expect(
          await store.acquireLock({ name: 'l', owner: owner(2), ttlMs: 1000, now: T0 + 1800 }),
        ).toBeNull();
        const taken = await store.acquireLock({ name: 'l', owner: owner(2), ttlMs: 1000, now: T0 + 1901 });
        expect(taken).toMatchObject({ token: 2, owner: owner(2) });
        expect(await store.renewLock('l', 1, T0 + 2000)).toBe(false);
        expect(await store.releaseLock('l', 1)).toBe(false);
        expect((await store.listLocks()).map((l) => [l.name, l.token])).toEqual([['l', 2]]);
      });

      it('force-releases whoever holds a lock, and lists only held ones', async () => {
        await store.acquireLock({ name: 'a', owner: owner(1), ttlMs: 1000, now: T0 });
        await store.acquireLock({ name: 'b', owner: owner(1), ttlMs: 1000, now: T0 });
        expect(await store.releaseLock('a')).toBe(true);
        expect(await store.releaseLock('a')).toBe(false);
        expect((await store.listLocks()).map((l) => l.name)).toEqual(['b']);
      });
    });

    describe('flags', () => {
      it('sets, reads and clears a store-wide flag', async () => {
        expect(await store.getFlag('maintenance')).toBeNull();
        await store.setFlag('maintenance', '{"note":"db move"}');
        expect(await store.getFlag('maintenance')).toBe('{"note":"db move"}');
        const other = await current().connect();
        expect(await other.getFlag('maintenance')).toBe('{"note":"db move"}');
        await store.setFlag('maintenance', null);
        expect(await store.getFlag('maintenance')).toBeNull();
      });
    });
  });
}
