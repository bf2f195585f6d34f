import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under the system temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'sundial-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws `message`). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, message = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A real store with some methods replaced, to hold a call at a gate or make the store refuse
 * something on cue. Everything else goes to the real store underneath.
 */
export function interpose<S extends object>(store: S, overrides: Partial<S>): S {
  return new Proxy(store, {
    get(target, property) {
      if (property in overrides) return overrides[property as keyof S];
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A live process as /proc shows it to the tests (host pids). */
export interface MarkedProcess {
  pid: number;
  /** Its process group and session: a process that called setsid has `sid === pid`. */
  pgrp: number;
  sid: number;
  command: string;
}

/**
 * Every live process whose environment holds `entry` (`NAME=value`), from /proc: a marker a test
 * gives a command is inherited by all it starts, even what leaves its process group. Linux only.
 */
export function processesWithEnv(entry: string): MarkedProcess[] {
  const found: MarkedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // A zombie's environment reads empty: only processes still running count.
      if (!readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(entry)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command name in parentheses: state, ppid, pgrp, session.
      const [, , pgrp, sid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(name), pgrp: Number(pgrp), sid: Number(sid), command });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
