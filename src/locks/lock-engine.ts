import type { LockStore } from '../store/index.ts';

/**
 * Where locks live: the store's `LockStore` role. A store (SQLite, PostgreSQL, Redis) is one, for
 * locks shared by every process on it; `FileLockEngine` is another, for a single host without a
 * shared store.
 */
export type LockEngine = LockStore;
