/**
 * The SQLite engine's statements, prepared once per connection. Each is one statement; what a
 * transaction does with them is in sqlite-store.ts.
 */
import type { DatabaseSync } from 'node:sqlite';
import { LIVE_STATES } from '../../core/index.ts';

const LIVE = LIVE_STATES.map((state) => `'${state}'`).join(', ');
const APPEND_RECORD = `history = json_insert(history, '$[#]', json(?))`;
const CLEAR_LEASE = 'lease_owner = NULL, lease_expires_at = NULL';
/** Back to waiting with a `released` record (first parameter: when); its WHERE follows. */
const RELEASE = `UPDATE sundial_jobs
  SET state = 'waiting', ${CLEAR_LEASE},
      history = json_insert(history, '$[#]', json_object(
        'attempt', attempt, 'outcome', 'released', 'worker', lease_owner,
        'startedAt', started_at, 'finishedAt', ?))`;
const HELD_BY = `id = ? AND state = 'active' AND lease_owner = ? AND attempt = ?`;

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: DatabaseSync) {
  return {
    insertJob: db.prepare(`
      INSERT INTO sundial_jobs
        (queue, name, payload, state, priority, run_at, max_attempts, backoff, timeout_ms, dedupe_key, max_stalls,
         origin, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO NOTHING`),
    dedupeHolder: db.prepare(
      `SELECT id FROM sundial_jobs WHERE queue = ? AND dedupe_key = ? AND state IN (${LIVE}) LIMIT 1`,
    ),
    promoteDue: db.prepare(
      `UPDATE sundial_jobs SET state = 'waiting' WHERE queue = ? AND state IN ('delayed', 'failed') AND run_at <= ?`,
    ),
    claim: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'active', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?, started_at = ?
      WHERE id IN (
        SELECT id FROM sundial_jobs
        WHERE queue = ? AND state = 'waiting'
        ORDER BY priority DESC, run_at, id
        LIMIT ?)
      AND NOT EXISTS (SELECT 1 FROM sundial_queues WHERE name = ? AND paused = 1)
      RETURNING *`),
    mayClaim: db.prepare(`
      SELECT EXISTS (SELECT 1 FROM sundial_jobs WHERE queue = ?1 AND state = 'waiting')
          OR EXISTS (SELECT 1 FROM sundial_jobs WHERE queue = ?2 AND state IN ('delayed', 'failed') AND run_at <= ?3)
        AS yes`),
    renewLease: db.prepare(
      `UPDATE sundial_jobs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND attempt = ? AND state = 'active'`,
    ),
    complete: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'completed', result = ?, error = NULL, finished_at = ?, ${CLEAR_LEASE}, ${APPEND_RECORD}
      WHERE ${HELD_BY}`),
    retryLater: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'failed', run_at = ?, failures = failures + 1, error = ?, ${CLEAR_LEASE}, ${APPEND_RECORD}
      WHERE ${HELD_BY}`),
    bury: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'dead', failures = failures + 1, error = ?, dead_letter = ?, finished_at = ?,
          ${CLEAR_LEASE}, ${APPEND_RECORD}
      WHERE ${HELD_BY}`),
    release: db.prepare(`${RELEASE} WHERE id = ? AND state = 'active' AND lease_owner = ?`),
    releaseOrphans: db.prepare(`${RELEASE}
      WHERE queue = ? AND state = 'active' AND lease_owner = ?
        AND id NOT IN (SELECT value FROM json_each(?))
      RETURNING id, attempt`),
    // SET expressions see the row as it was, so lease_owner still names the worker that stalled.
    recoverStalled: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'waiting', stalls = stalls + 1, ${CLEAR_LEASE},
          history = json_insert(history, '$[#]', json_object(
            'attempt', attempt, 'outcome', 'stalled', 'worker', lease_owner,
            'startedAt', started_at, 'finishedAt', ?1))
      WHERE state = 'active' AND lease_expires_at < ?1 AND stalls < max_stalls
        AND (?2 IS NULL OR queue = ?2)
        AND (?3 IS NULL OR lease_owner <> ?3 OR (?4 IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?4))))
      RETURNING id, queue, name`),
    buryStalled: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'dead', stalls = stalls + 1, error = ?1, finished_at = ?2, ${CLEAR_LEASE},
          dead_letter = json_object('reason', 'stalled', 'at', ?2, 'failures', failures,
            'stalls', stalls + 1, 'queue', queue),
          history = json_insert(history, '$[#]', json_object(
            'attempt', attempt, 'outcome', 'stalled', 'worker', lease_owner,
            'startedAt', started_at, 'finishedAt', ?2, 'error', json(?1)))
      WHERE state = 'active' AND lease_expires_at < ?2 AND stalls >= max_stalls
        AND (?3 IS NULL OR queue = ?3)
        AND (?4 IS NULL OR lease_owner <> ?4 OR (?5 IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?5))))
      RETURNING id, queue, name`),
    nextRunAt: db.prepare(
      `SELECT min(run_at) AS t FROM sundial_jobs WHERE queue = ? AND state IN ('delayed', 'failed')`,
    ),
    getJob: db.prepare('SELECT * FROM sundial_jobs WHERE id = ?'),
    listByState: db.prepare(
      'SELECT * FROM sundial_jobs WHERE queue = ? AND state = ? ORDER BY id LIMIT ? OFFSET ?',
    ),
    listByStateDesc: db.prepare(
      'SELECT * FROM sundial_jobs WHERE queue = ? AND state = ? ORDER BY id DESC LIMIT ? OFFSET ?',
    ),
    listAll: db.prepare('SELECT * FROM sundial_jobs WHERE queue = ? ORDER BY id LIMIT ? OFFSET ?'),
    listAllDesc: db.prepare('SELECT * FROM sundial_jobs WHERE queue = ? ORDER BY id DESC LIMIT ? OFFSET ?'),
    countByState: db.prepare('SELECT state, count(*) AS n FROM sundial_jobs WHERE queue = ? GROUP BY state'),
    retryNow: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'waiting', run_at = ?, failures = 0, stalls = 0, dead_letter = NULL, finished_at = NULL
      WHERE id = ?`),
    // A running job's run ends here too: its history says so (its worker's outcome will not apply).
    cancel: db.prepare(`
      UPDATE sundial_jobs
      SET state = 'cancelled', finished_at = ?1, ${CLEAR_LEASE},
          history = CASE WHEN state = 'active' THEN json_insert(history, '$[#]', json_object(
            'attempt', attempt, 'outcome', 'cancelled', 'worker', lease_owner,
            'startedAt', started_at, 'finishedAt', ?1)) ELSE history END
      WHERE id = ?2`),
    remove: db.prepare('DELETE FROM sundial_jobs WHERE id = ?'),
    setPaused: db.prepare(
      'INSERT INTO sundial_queues (name, paused) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused',
    ),
    isPaused: db.prepare('SELECT paused FROM sundial_queues WHERE name = ?'),
    // A changed spec takes its new next run; an unchanged one keeps its own (missed runs included).
    syncSchedule: db.prepare(`
      INSERT INTO sundial_schedules (id, spec_hash, next_run_at, updated_at) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (id) DO UPDATE SET spec_hash = excluded.spec_hash, next_run_at = excluded.next_run_at,
        updated_at = excluded.updated_at
      WHERE sundial_schedules.spec_hash <> excluded.spec_hash`),
    fireSchedule: db.prepare(`
      UPDATE sundial_schedules SET next_run_at = ?, last_run_at = ?, updated_at = ?
      WHERE id = ? AND next_run_at = ? AND paused = 0`),
    nextScheduleRunAt: db.prepare(
      'SELECT min(next_run_at) AS t FROM sundial_schedules WHERE paused = 0 AND next_run_at IS NOT NULL',
    ),
    listSchedules: db.prepare('SELECT * FROM sundial_schedules ORDER BY id'),
    // The expression repeats the index's, so SQLite reads the newest entry of each schedule from it.
    latestRuns: db.prepare(`
      SELECT j.*, latest.schedule FROM (
        SELECT json_extract(origin, '$.schedule') AS schedule, max(id) AS id FROM sundial_jobs
        WHERE origin IS NOT NULL GROUP BY json_extract(origin, '$.schedule')
      ) AS latest JOIN sundial_jobs AS j ON j.id = latest.id`),
    pauseSchedule: db.prepare(
      'UPDATE sundial_schedules SET paused = ?, note = ?, updated_at = ? WHERE id = ?',
    ),
    resumeScheduleAt: db.prepare(
      'UPDATE sundial_schedules SET paused = 0, note = ?, updated_at = ?, next_run_at = ? WHERE id = ?',
    ),
    // Free, or held past its TTL without a heartbeat: take it with the next fencing token.
    acquireLock: db.prepare(`
      INSERT INTO sundial_locks (name, owner, token, acquired_at, heartbeat_at, ttl_ms) VALUES (?1, ?2, 1, ?3, ?3, ?4)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = sundial_locks.token + 1,
        acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, ttl_ms = excluded.ttl_ms
      WHERE sundial_locks.owner IS NULL OR sundial_locks.heartbeat_at + sundial_locks.ttl_ms < excluded.acquired_at
      RETURNING *`),
    renewLock: db.prepare(
      'UPDATE sundial_locks SET heartbeat_at = ? WHERE name = ? AND token = ? AND owner IS NOT NULL',
    ),
    releaseLock: db.prepare(`
      UPDATE sundial_locks SET owner = NULL, acquired_at = NULL, heartbeat_at = NULL, ttl_ms = NULL
      WHERE name = ?1 AND owner IS NOT NULL AND (?2 IS NULL OR token = ?2)`),
    listLocks: db.prepare('SELECT * FROM sundial_locks WHERE owner IS NOT NULL ORDER BY name'),
    getFlag: db.prepare('SELECT value FROM sundial_flags WHERE name = ?'),
    setFlag: db.prepare(
      'INSERT INTO sundial_flags (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ),
    clearFlag: db.prepare('DELETE FROM sundial_flags WHERE name = ?'),
    listQueues: db.prepare(
      'SELECT name FROM sundial_queues UNION SELECT DISTINCT queue FROM sundial_jobs ORDER BY 1',
    ),
    anyJobOf: db.prepare('SELECT 1 AS found FROM sundial_jobs WHERE queue = ? LIMIT 1'),
    forgetQueue: db.prepare('DELETE FROM sundial_queues WHERE name = ?'),
  };
}
