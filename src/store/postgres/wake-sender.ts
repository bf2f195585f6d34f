import { SharedCall } from '../../core/shared-call.ts';

/**
 * Sends wake-ups (NOTIFY on the schema's channel) for work made claimable by statements that commit
 * durably, such as an add, in a transaction of their own that commits without waiting for the disk.
 *
 * Why not inside the add's own statement: a transaction that has notified holds a database-wide
 * lock from its commit's start to its end (PostgreSQL queues notifications in commit order), and a
 * durable commit ends only after its WAL flush. Every add then waited for every other add's flush,
 * one after another: under 1,500 single adds a second the soak measured most server time waiting on
 * that lock and adds of 70–125 ms at p99. Sent apart, the lock is held for no flush at all, and
 * losing a wake-up in a crash costs nothing (the job is durable; workers poll as a backstop).
 *
 * One send is in flight at a time; the names asked for meanwhile go together in the next one.
 */
export class PgWakeSender {
  private readonly pending = new Set<string>();
  private readonly round: SharedCall;

  /** `send` NOTIFYs each name (a queue, a channel or `*`) in a transaction of its own. */
  constructor(send: (names: string[]) => Promise<unknown>, onError: (error: unknown) => void) {
    this.round = new SharedCall(async () => {
      const names = [...this.pending];
      this.pending.clear();
      if (names.length === 0) return;
      // A wake-up that fails is not the caller's failure (its work is committed): reported only.
      await send(names).catch(onError);
    });
  }

  /** Resolves once the names have been sent (or their send failed, which is reported); never rejects. */
  wake(names: Iterable<string>): Promise<void> {
    let any = false;
    for (const name of names) {
      this.pending.add(name);
      any = true;
    }
    return any ? this.round.request() : Promise.resolve();
  }
}

/**
 * The statement `PgWakeSender` sends with, parameters: the channel and the names. Its own implicit
 * transaction commits without the flush (`synchronous_commit` off for it alone).
 */
export const WAKE_SQL = `WITH sent AS (SELECT pg_notify($1, name) FROM unnest($2::text[]) AS name)
  SELECT set_config('synchronous_commit', 'off', true) AS relaxed, (SELECT count(*) FROM sent) AS sent`;
