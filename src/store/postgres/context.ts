import type pg from 'pg';
import type { WakeTarget } from '../listeners.ts';

/** A pool or one of its connections (inside a transaction): what a statement runs on. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * What the PostgreSQL engine's role modules (management.ts, schedules.ts, locks.ts) share with the
 * store that holds the pool: its schema, its statements and transactions (each failing with
 * `StoreUnavailableError` when the server cannot be reached), and its wake-ups.
 */
export interface PgContext {
  /** The quoted schema name, for statements. */
  readonly q: string;
  query<Row extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
  /** Runs `work` in a transaction, retried from the start after a deadlock. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** NOTIFY inside the transaction: delivered when it commits, never before. */
  notify(client: pg.PoolClient, names: Iterable<string>): Promise<void>;
  /** NOTIFY every worker of every queue (not schedulers or cancels), inside the transaction. */
  notifyAll(client: pg.PoolClient): Promise<void>;
  /** This process's own listeners. */
  wakeLocal(target: WakeTarget): void;
}
