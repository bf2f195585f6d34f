import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SundialError } from '../core/index.ts';
import type { LockOwner, LockRecord } from '../store/index.ts';
import type { LockEngine } from './lock-engine.ts';

interface LockFile {
  name: string;
  owner: LockOwner | null;
  token: number;
  acquiredAt: number | null;
  heartbeatAt: number | null;
  ttlMs: number | null;
}

/** A mutex directory older than this was left by a process that died inside a few-line update. */
const STALE_MUTEX_MS = 10_000;

/**
 * Locks as files in one folder, for a single host without a shared store. Each lock is a JSON file
 * (kept after release, so its fencing token keeps growing); every change to one happens inside a
 * short mutex (`mkdir` is atomic) and is written with write-then-rename, so a reader never sees half
 * a file.
 */
export class FileLockEngine implements LockEngine {
  private readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
    mkdirSync(directory, { recursive: true });
  }

  acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    return this.update(request.name, (current) => {
      const free = !current?.owner || current.heartbeatAt! + current.ttlMs! < request.now;
      if (!free) return { next: current, result: null };
      const next: LockFile = {
        name: request.name,
        owner: request.owner,
        token: (current?.token ?? 0) + 1,
        acquiredAt: request.now,
        heartbeatAt: request.now,
        ttlMs: request.ttlMs,
      };
      return { next, result: toRecord(next) };
    });
  }

  renewLock(name: string, token: number, now: number): Promise<boolean> {
    return this.update(name, (current) => {
      if (!current?.owner || current.token !== token) return { next: current, result: false };
      return { next: { ...current, heartbeatAt: now }, result: true };
    });
  }

  releaseLock(name: string, token?: number): Promise<boolean> {
    return this.update(name, (current) => {
      if (!current?.owner || (token !== undefined && current.token !== token))
        return { next: current, result: false };
      return {
        next: { ...current, owner: null, acquiredAt: null, heartbeatAt: null, ttlMs: null },
        result: true,
      };
    });
  }

  async listLocks(): Promise<LockRecord[]> {
    const locks: LockRecord[] = [];
    for (const file of readdirSync(this.directory)
      .filter((f) => f.endsWith('.lock'))
      .sort()) {
      const lock = this.read(join(this.directory, file));
      if (lock?.owner) locks.push(toRecord(lock));
    }
    return locks;
  }

  private async update<T>(
    name: string,
    change: (current: LockFile | null) => { next: LockFile | null; result: T },
  ): Promise<T> {
    const path = join(this.directory, `${encodeURIComponent(name)}.lock`);
    const mutex = `${path}.mutex`;
    await this.enter(mutex);
    try {
      const { next, result } = change(this.read(path));
      if (next) {
        const temp = `${path}.${process.pid}.tmp`;
        writeFileSync(temp, JSON.stringify(next));
        renameSync(temp, path);
      }
      return result;
    } finally {
      rmdirSync(mutex);
    }
  }

  private async enter(mutex: string): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        mkdirSync(mutex);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        try {
          if (Date.now() - statSync(mutex).mtimeMs > STALE_MUTEX_MS) rmdirSync(mutex);
        } catch {
          // Gone already: try again.
        }
        if (Date.now() > deadline)
          throw new SundialError('SUNDIAL_LOCK_BUSY', `Lock file mutex ${mutex} stayed taken`);
        await sleep(1);
      }
    }
  }

  private read(path: string): LockFile | null {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as LockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }
}

function toRecord(lock: LockFile): LockRecord {
  return {
    name: lock.name,
    owner: lock.owner!,
    token: lock.token,
    acquiredAt: lock.acquiredAt!,
    heartbeatAt: lock.heartbeatAt!,
    ttlMs: lock.ttlMs!,
  };
}
