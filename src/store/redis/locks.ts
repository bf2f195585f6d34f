import type { FlagStore, LockOwner, LockRecord, LockStore } from '../store.ts';
import type { RedisContext } from './context.ts';
import { type FlatHash, fields, nullable } from './jobs.ts';

/** Named locks and store-wide flags: the Redis engine's `LockStore` and `FlagStore`. */
export class RedisLocks implements LockStore, FlagStore {
  private readonly redis: RedisContext;

  constructor(context: RedisContext) {
    this.redis = context;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    this.redis.check();
    const token = (await this.redis.run('acquireLock', this.redis.global, [
      request.name,
      JSON.stringify(request.owner),
      String(request.now),
      String(request.ttlMs),
    ])) as number;
    if (token === 0) return null;
    return {
      name: request.name,
      owner: request.owner,
      token,
      acquiredAt: request.now,
      heartbeatAt: request.now,
      ttlMs: request.ttlMs,
    };
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    this.redis.check();
    return (await this.redis.run('renewLock', this.redis.global, [name, String(token), String(now)])) === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    this.redis.check();
    return (await this.redis.run('releaseLock', this.redis.global, [name, nullable(token ?? null)])) === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    this.redis.check();
    const rows = (await this.redis.run('listLocks', this.redis.global, [])) as [string, FlatHash][];
    return rows.map(([name, flat]) => {
      const f = fields(flat);
      return {
        name,
        owner: JSON.parse(f.get('owner')!) as LockOwner,
        token: Number(f.get('token')),
        acquiredAt: Number(f.get('acquiredAt')),
        heartbeatAt: Number(f.get('heartbeatAt')),
        ttlMs: Number(f.get('ttlMs')),
      };
    });
  }

  async getFlag(name: string): Promise<string | null> {
    this.redis.check();
    return this.redis.command(() => this.redis.client.hget(`${this.redis.global}:flags`, name));
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    this.redis.check();
    await this.redis.run('setFlag', this.redis.global, [name, nullable(value)]);
  }
}
