import type pg from 'pg';
import { SundialError } from '../../core/index.ts';

/** The advisory lock class of the maintenance vacuum (the key is the schema's): one node at a time. */
export const VACUUM_LOCK_CLASS = 0x53564143; // 'SVAC'

/** What the store lends its maintenance vacuum. */
export interface MaintenanceVacuumHost {
  readonly pool: pg.Pool;
  /** The schema's name, and quoted for SQL. */
  readonly schema: string;
  readonly q: string;
  onError(error: unknown): void;
}

/**
 * The opt-in maintenance vacuum (the store's `maintenanceVacuum` option): every `everyMs`, one
 * process of those that share the schema (a session advisory lock decides) runs
 * `VACUUM (ANALYZE)` on Sundial's busy tables. It is for servers whose autovacuum is off or cannot
 * keep up: without a vacuum, every claimed or finished job leaves a dead entry in the indexes that
 * claims and adds walk from their start, and the soak measured the claim's walk growing from 20 to
 * 450 buffers in two minutes at 1,500 jobs a second. The operator's own vacuum settings are left as
 * they are; this only adds rounds of its own.
 *
 * Each process with the option keeps its own timer, but a round whose table was vacuumed within
 * the interval (by another process, or by autovacuum) skips it. The first round comes one interval
 * after start, so a short-lived process (a CLI command) never runs one. A role that does not own
 * the tables cannot vacuum them (PostgreSQL skips them with a warning): that is checked at the
 * first round, reported once, and the rounds stop.
 */
export class PgMaintenanceVacuum {
  private readonly host: MaintenanceVacuumHost;
  private readonly everyMs: number;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = false;
  /** Whether the first round found the role owning the tables (checked once: it does not change). */
  private ownerChecked = false;

  constructor(host: MaintenanceVacuumHost, everyMs: number) {
    this.host = host;
    this.everyMs = everyMs;
  }

  start(): void {
    if (this.stopped || this.timer) return;
    this.schedule();
  }

  /** Stops the rounds; resolves once a round under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.round = this.vacuum()
        .catch((error: unknown) => this.host.onError(error))
        .finally(() => {
          this.round = null;
          if (!this.stopped) this.schedule();
        });
    }, this.everyMs);
    this.timer.unref();
  }

  /** Throws, and stops the rounds, when the role connected does not own the jobs table. */
  private async checkOwner(client: pg.PoolClient): Promise<void> {
    const { q } = this.host;
    const owns = await client.query<{ owns: boolean }>(
      `SELECT pg_has_role(c.relowner, 'MEMBER') AS owns FROM pg_class AS c WHERE c.oid = $1::regclass`,
      [`${q}.jobs`],
    );
    if (!owns.rows[0]?.owns) {
      this.stopped = true;
      throw new SundialError(
        'SUNDIAL_VACUUM_NOT_OWNER',
        `store.maintenanceVacuum is set, but the role connected does not own ${q}.jobs, so PostgreSQL would ` +
          'skip it: connect as the role that owns Sundial’s tables (the one that created them), or leave the ' +
          'vacuum to autovacuum',
      );
    }
    this.ownerChecked = true;
  }

  /** One round: skipped while another process holds the schema's vacuum lock. */
  private async vacuum(): Promise<void> {
    const { pool, schema, q } = this.host;
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      if (!this.ownerChecked) await this.checkOwner(client);
      const locked = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [VACUUM_LOCK_CLASS, schema],
      );
      if (!locked.rows[0]?.locked) return;
      try {
        // Every process with the option has its timer: the interval holds for all of them together,
        // and a vacuum by autovacuum counts as well (read once the lock is ours, so it is current).
        const recent = await client.query<{ recent: boolean }>(
          `SELECT coalesce(greatest(last_vacuum, last_autovacuum) > now() - $2 * interval '1 millisecond', false)
             AS recent FROM pg_stat_user_tables WHERE relid = $1::regclass`,
          [`${q}.jobs`, this.everyMs * 0.9],
        );
        if (recent.rows[0]?.recent) return;
        // Not in a transaction: VACUUM refuses to run inside one. The claimable jobs and the offers
        // are the tables every claim touches; the rest change seldom.
        await client.query(`VACUUM (ANALYZE) ${q}.jobs, ${q}.offers`);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [VACUUM_LOCK_CLASS, schema]);
      }
    } catch (error) {
      // A connection that failed mid-round may still hold the lock: it is closed, not reused.
      if (!(error instanceof SundialError)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
