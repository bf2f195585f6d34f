import { hostname } from 'node:os';
import { type Clock, InvalidOptionError, SundialError, systemClock } from '../core/index.ts';
import type { LockRecord } from '../store/index.ts';
import type { LockEngine } from './lock-engine.ts';

/** A lock this process holds. Its heartbeat runs until `release()`; `signal` aborts if it is lost. */
export interface HeldLock {
  name: string;
  /** The fencing token: pass it along to anything that must reject a superseded holder. */
  token: number;
  signal: AbortSignal;
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long the lock outlives its last heartbeat. Default 30 s. */
  ttlMs?: number;
  /** What holds it, shown by `sundial locks`. */
  runId?: string;
}

/** Whether a process with this pid exists on this host (signal 0 checks without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Locks that heal: each records its owner (host, pid, run id), acquisition and heartbeat times, TTL
 * and a fencing token. A holder renews by heartbeat (a third of the TTL); a lock whose heartbeat is
 * older than its TTL can be taken by anyone; a lock whose owner is a dead process on this same host
 * is taken at once, without waiting for the TTL.
 */
export class LockProvider {
  private readonly engine: LockEngine;
  private readonly clock: Clock;
  private readonly host: string;
  private readonly held = new Set<{ stop: () => void }>();

  constructor(engine: LockEngine, options: { clock?: Clock; host?: string } = {}) {
    this.engine = engine;
    this.clock = options.clock ?? systemClock;
    this.host = options.host ?? hostname();
  }

  /** The lock, or null when someone alive holds it. */
  async acquire(name: string, options: AcquireOptions = {}): Promise<HeldLock | null> {
    const ttlMs = options.ttlMs ?? 30_000;
    if (!Number.isInteger(ttlMs) || ttlMs < 30)
      throw new InvalidOptionError('ttlMs', ttlMs, 'a whole number of ms, 30 or more');
    const owner = { host: this.host, pid: process.pid, runId: options.runId ?? '' };
    let lock = await this.engine.acquireLock({ name, owner, ttlMs, now: this.clock.now() });
    if (!lock) {
      const holder = (await this.engine.listLocks()).find((l) => l.name === name);
      // Its owner died on this host: no need to wait out the TTL.
      if (holder && holder.owner.host === this.host && !isProcessAlive(holder.owner.pid)) {
        await this.engine.releaseLock(name, holder.token);
        lock = await this.engine.acquireLock({ name, owner, ttlMs, now: this.clock.now() });
      }
    }
    return lock ? this.hold(lock) : null;
  }

  list(): Promise<LockRecord[]> {
    return this.engine.listLocks();
  }

  /** Lets go of a lock whoever holds it (`sundial clear-locks`); the holder's signal aborts at its next heartbeat. */
  forceRelease(name: string): Promise<boolean> {
    return this.engine.releaseLock(name);
  }

  /** Stops every heartbeat of locks this provider handed out (their TTLs run out). */
  close(): void {
    for (const entry of this.held) entry.stop();
    this.held.clear();
  }

  private hold(lock: LockRecord): HeldLock {
    const controller = new AbortController();
    const timer = setInterval(
      () => {
        this.engine.renewLock(lock.name, lock.token, this.clock.now()).then(
          (held) => {
            if (!held)
              lost(new SundialError('SUNDIAL_LOCK_LOST', `Lock ${lock.name} was taken over or cleared`));
          },
          // A store that is briefly busy is no reason to give up: the next heartbeat tries again,
          // and only someone else taking the lock (after its TTL) makes it lost.
          () => {},
        );
      },
      Math.max(10, Math.floor(lock.ttlMs / 3)),
    );
    timer.unref();
    const entry = { stop: () => clearInterval(timer) };
    this.held.add(entry);
    const lost = (reason: unknown) => {
      entry.stop();
      this.held.delete(entry);
      controller.abort(reason);
    };
    return {
      name: lock.name,
      token: lock.token,
      signal: controller.signal,
      release: async () => {
        entry.stop();
        this.held.delete(entry);
        await this.engine.releaseLock(lock.name, lock.token);
      },
    };
  }
}
