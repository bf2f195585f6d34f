import { type LockRow, lockFromRow } from '../rows.ts';
import {
  type FlagStore,
  type LockOwner,
  type LockRecord,
  type LockStore,
  SCHEDULES_CHANNEL,
} from '../store.ts';
import type { PgContext } from './context.ts';

/** Named locks and store-wide flags: the PostgreSQL engine's `LockStore` and `FlagStore`. */
export class PgLocks implements LockStore, FlagStore {
  private readonly pg: PgContext;

  constructor(context: PgContext) {
    this.pg = context;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    // Free, or held past its TTL without a heartbeat: take it with the next fencing token.
    const { rows } = await this.pg.query<LockRow>(
      `INSERT INTO ${this.pg.q}.locks AS l (name, owner, token, acquired_at, heartbeat_at, ttl_ms)
       VALUES ($1, $2, 1, $3, $3, $4)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = l.token + 1,
         acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, ttl_ms = excluded.ttl_ms
       WHERE l.owner IS NULL OR l.heartbeat_at + l.ttl_ms < excluded.acquired_at
       RETURNING *`,
      [request.name, JSON.stringify(request.owner), request.now, request.ttlMs],
    );
    return rows[0] ? lockFromRow(rows[0]) : null;
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    const { rowCount } = await this.pg.query(
      `UPDATE ${this.pg.q}.locks SET heartbeat_at = $1 WHERE name = $2 AND token = $3 AND owner IS NOT NULL`,
      [now, name, token],
    );
    return rowCount === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    const { rowCount } = await this.pg.query(
      `UPDATE ${this.pg.q}.locks SET owner = NULL, acquired_at = NULL, heartbeat_at = NULL, ttl_ms = NULL
       WHERE name = $1 AND owner IS NOT NULL AND ($2::bigint IS NULL OR token = $2)`,
      [name, token ?? null],
    );
    return rowCount === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    const { rows } = await this.pg.query<LockRow>(
      `SELECT * FROM ${this.pg.q}.locks WHERE owner IS NOT NULL ORDER BY name`,
    );
    return rows.map(lockFromRow);
  }

  async getFlag(name: string): Promise<string | null> {
    const { rows } = await this.pg.query<{ value: string }>(
      `SELECT value FROM ${this.pg.q}.flags WHERE name = $1`,
      [name],
    );
    return rows[0]?.value ?? null;
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    await this.pg.transaction(async (client) => {
      if (value === null) await client.query(`DELETE FROM ${this.pg.q}.flags WHERE name = $1`, [name]);
      else
        await client.query(
          `INSERT INTO ${this.pg.q}.flags (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
          [name, value],
        );
      await this.pg.notify(client, [SCHEDULES_CHANNEL]);
    });
    this.pg.wakeLocal([SCHEDULES_CHANNEL]);
  }
}
