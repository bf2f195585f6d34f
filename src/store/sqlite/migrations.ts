import type { DatabaseSync } from 'node:sqlite';
import { SundialError } from '../../core/index.ts';

/**
 * Versioned schema changes, applied in order inside one write transaction. Never edit a released
 * migration: add a new one, then refresh the committed dump with `npm run schema:dump`
 * (a test fails when `schema.sql` and the migrations disagree).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and queues',
    sql: `
CREATE TABLE sundial_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  backoff TEXT NOT NULL,
  timeout_ms INTEGER,
  dedupe_key TEXT,
  stalls INTEGER NOT NULL DEFAULT 0,
  max_stalls INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  result TEXT,
  error TEXT,
  dead_letter TEXT,
  history TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
) STRICT;

-- Only what is claimable is indexed for claiming (a partial index stays small however much history piles up).
CREATE INDEX sundial_jobs_claimable ON sundial_jobs (queue, priority DESC, run_at, id) WHERE state = 'waiting';
CREATE INDEX sundial_jobs_scheduled ON sundial_jobs (queue, run_at) WHERE state IN ('delayed', 'failed');
CREATE INDEX sundial_jobs_leases ON sundial_jobs (lease_expires_at) WHERE state = 'active';
CREATE INDEX sundial_jobs_by_state ON sundial_jobs (queue, state, id);
CREATE UNIQUE INDEX sundial_jobs_dedupe ON sundial_jobs (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'delayed', 'failed', 'active');

CREATE TABLE sundial_queues (
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0
) STRICT;
`,
  },
  {
    version: 2,
    name: 'schedules',
    sql: `
CREATE TABLE sundial_schedules (
  id TEXT PRIMARY KEY,
  spec_hash TEXT NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  paused INTEGER NOT NULL DEFAULT 0,
  note TEXT,
  updated_at INTEGER NOT NULL
) STRICT;

-- The tick reads only what is due: its cost follows the due schedules, not all of them.
CREATE INDEX sundial_schedules_due ON sundial_schedules (next_run_at) WHERE paused = 0 AND next_run_at IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'job origin',
    sql: `
-- Where a job came from, as JSON: for a scheduled fire, the schedule, the intended time and whether
-- it was a catch-up. NULL for jobs added directly.
ALTER TABLE sundial_jobs ADD COLUMN origin TEXT;
`,
  },
  {
    version: 4,
    name: 'locks',
    sql: `
-- A row stays after release (owner NULL) so the fencing token keeps growing for that name.
CREATE TABLE sundial_locks (
  name TEXT PRIMARY KEY,
  owner TEXT,
  token INTEGER NOT NULL,
  acquired_at INTEGER,
  heartbeat_at INTEGER,
  ttl_ms INTEGER
) STRICT;
`,
  },
  {
    version: 5,
    name: 'flags',
    sql: `
CREATE TABLE sundial_flags (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`,
  },
  {
    version: 6,
    name: 'runs by schedule',
    // Each task's latest run (`sundial list`'s last status) without reading every job: only jobs a
    // schedule fired are in it.
    sql: `
CREATE INDEX sundial_jobs_by_schedule ON sundial_jobs (json_extract(origin, '$.schedule'), id)
  WHERE origin IS NOT NULL;
`,
  },
];

/**
 * Applies the migrations this file lacks, in one write transaction, so concurrent starters agree.
 * A database that already holds another application's tables and none of Sundial's is refused
 * unless `allowOtherTables` (a mistyped `--db` must not add Sundial's tables to someone's data).
 */
export function migrate(
  db: DatabaseSync,
  { allowOtherTables = false, path = 'The database' }: { allowOtherTables?: boolean; path?: string } = {},
): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    if (!allowOtherTables) refuseForeignDatabase(db, path);
    db.exec(`CREATE TABLE IF NOT EXISTS sundial_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const row = db.prepare('SELECT max(version) AS v FROM sundial_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = migrations.at(-1)!.version;
    if (current > latest) {
      throw new SundialError(
        'SUNDIAL_SCHEMA_TOO_NEW',
        `The database is at schema version ${current}, newer than this Sundial knows (${latest}): upgrade Sundial`,
      );
    }
    const record = db.prepare('INSERT INTO sundial_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      // When it was applied, for people reading the table: the wall clock, as PostgreSQL's now().
      record.run(migration.version, migration.name, Date.now());
    }
    db.exec('COMMIT');
  } catch (error) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // no transaction left to undo
    }
    throw error;
  }
}

function refuseForeignDatabase(db: DatabaseSync, path: string): void {
  const tables = (
    db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
      )
      .all() as { name: string }[]
  ).map((row) => row.name);
  if (tables.length === 0 || tables.includes('sundial_migrations')) return;
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? `, and ${tables.length - 5} more` : '');
  throw new SundialError(
    'SUNDIAL_FOREIGN_DATABASE',
    `${path} is not a Sundial database: it holds other tables (${shown}). Point the store at a file of its own, or pass allowOtherTables: true (--allow-other-tables) to add Sundial's tables beside them`,
  );
}
