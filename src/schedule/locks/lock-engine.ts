import type { Store } from '../../store/index.ts';

/**
 * Where locks live: the lock methods of the store contract. A store (SQLite, PostgreSQL, Redis) is
 * one, for locks shared by every process on it; `FileLockEngine` is another, for a single host
 * without a shared store.
 */
export type LockEngine = Pick<Store, 'acquireLock' | 'renewLock' | 'releaseLock' | 'listLocks'>;
