import { type LockRow, lockFromRow } from '../rows.ts';
import {
  type FlagStore,
  type LockOwner,
  type LockRecord,
  type LockStore,
  SCHEDULES_CHANNEL,
} from '../store.ts';
import type { SqliteContext } from './context.ts';

/** Named locks and store-wide flags: the SQLite engine's `LockStore` and `FlagStore`. */
export class SqliteLocks implements LockStore, FlagStore {
  private readonly sqlite: SqliteContext;

  constructor(context: SqliteContext) {
    this.sqlite = context;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    const s = this.sqlite.prepared();
    const row = await this.sqlite.transaction(
      () =>
        s.acquireLock.get(
          request.name,
          JSON.stringify(request.owner),
          request.now,
          request.ttlMs,
        ) as unknown as LockRow | undefined,
    );
    return row ? lockFromRow(row) : null;
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    const s = this.sqlite.prepared();
    return (await this.sqlite.transaction(() => s.renewLock.run(now, name, token))).changes === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    const s = this.sqlite.prepared();
    return (await this.sqlite.transaction(() => s.releaseLock.run(name, token ?? null))).changes === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    const rows = await this.sqlite.read(() => this.sqlite.prepared().listLocks.all() as unknown as LockRow[]);
    return rows.map(lockFromRow);
  }

  async getFlag(name: string): Promise<string | null> {
    const row = await this.sqlite.read(
      () => this.sqlite.prepared().getFlag.get(name) as { value: string } | undefined,
    );
    return row?.value ?? null;
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    const s = this.sqlite.prepared();
    await this.sqlite.transaction(() =>
      value === null ? s.clearFlag.run(name) : s.setFlag.run(name, value),
    );
    this.sqlite.announce([SCHEDULES_CHANNEL]);
  }
}
