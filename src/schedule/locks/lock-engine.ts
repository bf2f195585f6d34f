import type { LockOwner, LockRecord } from '../../store/index.ts';

/**
 * Where locks live. A store (SQLite, PostgreSQL, Redis) is one, for locks shared by every process
 * on it; `FileLockEngine` is another, for a single host without a shared store.
 */
export interface LockEngine {
  acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null>;
  renewLock(name: string, token: number, now: number): Promise<boolean>;
  releaseLock(name: string, token?: number): Promise<boolean>;
  listLocks(): Promise<LockRecord[]>;
}
