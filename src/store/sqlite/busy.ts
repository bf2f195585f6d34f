import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { SundialError } from '../../core/index.ts';

/** SQLITE_BUSY, and its extended codes: another connection holds the write lock. */
export function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && (code & 0xff) === 5;
}

/**
 * Runs `attempt` until it stops failing with SQLITE_BUSY, for at most `timeoutMs`.
 *
 * Why not SQLite's own busy timeout: `node:sqlite` is synchronous, so SQLite's busy handler sleeps
 * (1, 2, 5, 10 ms ...) with the whole event loop frozen: no heartbeats, no handlers, no timers. Here
 * the wait yields instead. The first retries come on the next turns because a competing commit
 * usually takes well under a millisecond (a worker woken by another process's WAL write often
 * arrives while that commit is still being written); after that the waits grow, so a long
 * transaction elsewhere (a big bulk insert) is not met with a busy loop.
 */
export async function retryWhileBusy<T>(attempt: () => T, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let tries = 0; ; tries++) {
    try {
      return attempt();
    } catch (error) {
      if (!isBusy(error)) throw error;
      if (Date.now() >= deadline) {
        throw new SundialError(
          'SUNDIAL_STORE_BUSY',
          `The SQLite database stayed locked by another connection for ${timeoutMs} ms`,
          { cause: error },
        );
      }
      if (tries < 8) await nextTurn();
      else await sleep(Math.min(16, 2 ** Math.floor((tries - 8) / 2)));
    }
  }
}
