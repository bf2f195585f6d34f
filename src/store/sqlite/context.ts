import type { DatabaseSync } from 'node:sqlite';
import type { AddedJob, NewJob } from '../store.ts';
import type { Statements } from './statements.ts';

/**
 * What the SQLite engine's role modules (management.ts, schedules.ts, locks.ts) share with the
 * store that holds the connection: its statements, the open database (for statements built per
 * call), reads and write transactions that wait out another process's lock, and wake-ups.
 */
export interface SqliteContext {
  /** The prepared statements, opening the file on first use. */
  prepared(): Statements;
  /** The open connection (after `prepared()`). */
  database(): DatabaseSync;
  read<T>(work: () => T): Promise<T>;
  /** A write transaction (`BEGIN IMMEDIATE`), all of it in one synchronous stretch. */
  transaction<T>(work: () => T): Promise<T>;
  /** Tells this process and others that these queues (or channels) may have changed. */
  announce(queues: Iterable<string> | 'all'): void;
  /** Inserts jobs in order, each deduped against live jobs; inside a transaction. */
  insertJobs(s: Statements, jobs: readonly NewJob[]): AddedJob[];
}
