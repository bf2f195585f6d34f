import type pg from 'pg';
import type { Job } from '../../core/index.ts';
import { type JobRow, rowToJob } from '../rows.ts';
import type { Handoff } from '../store.ts';
import type { PgWakeListener } from './wake-listener.ts';

/** What the PostgreSQL store lends its handoff: its schema, connections and listener. */
export interface PgHandoffHost {
  /** The quoted schema. */
  readonly q: string;
  readonly listener: PgWakeListener;
  ready(): Promise<void>;
  query(text: string, values: unknown[]): Promise<pg.QueryResult>;
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** NOTIFY, inside the transaction, that these queues may have work. */
  notify(client: pg.PoolClient, queues: string[]): Promise<void>;
  /** Wakes this process's workers of these queues. */
  wakeLocal(queues: string[]): void;
  onError(error: unknown): void;
}

/**
 * Direct handoff on PostgreSQL (see `Handoff` in store.ts). An offer is a row of `offers` naming
 * the backend pid of the store's listener connection; the add statement (see the store's
 * `insertJobs`) hands a job only under an offer whose listener connection is still there (it holds
 * an advisory lock while it lives), inserts it already active, and NOTIFYs the job on that connection's
 * own channel (`sundial_hand_<pid>`, see wake-listener.ts), at its commit. A process that died
 * took its connection, and the lock, with it. A delivery sent while the listener reconnects is
 * lost: the job is an orphan, which its owner recovers.
 */
export class PgHandoff implements Handoff {
  private readonly host: PgHandoffHost;
  /** Owner -> its delivery. */
  private readonly receivers = new Map<string, (jobs: Job[]) => void>();

  constructor(host: PgHandoffHost) {
    this.host = host;
    host.listener.onHanded = (payload) => this.handed(payload);
  }

  async receive(owner: string, deliver: (jobs: Job[]) => void): Promise<() => Promise<void>> {
    await this.host.ready(); // the listener is connected once the store is
    this.receivers.set(owner, deliver);
    return async () => {
      this.receivers.delete(owner);
      // Its offers name a listener that stays: they must go, or adds would hand it jobs nobody hears.
      await this.host
        .query(`DELETE FROM ${this.host.q}.offers WHERE owner = $1`, [owner])
        .catch((error: unknown) => this.host.onError(error));
    };
  }

  private handed(payload: string): void {
    try {
      const { owner, jobs } = JSON.parse(payload) as { owner: string; jobs: JobRow[] };
      // One job per notification (see the store's handingInsertSql), in the order of the add.
      this.receivers.get(owner)?.(jobs.map(rowToJob));
    } catch (error) {
      this.host.onError(error);
    }
  }
}
