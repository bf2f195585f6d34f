/**
 * The statements of the PostgreSQL engine's job work (adding, handing, claiming, finishing), built
 * for a schema, and the constants and batch encodings they share. The store (postgres-store.ts)
 * runs them.
 */
import type { Job, JobState } from '../../core/index.ts';
import { claimOrder } from '../encoding.ts';
import { type JobRow, rowToJob } from '../rows.ts';
import type { JobOutcome } from '../store.ts';
import { CLEAR_LEASE } from './sql.ts';
import { HANDOFF_CHANNEL_PREFIX, HANDOFF_LOCK_CLASS } from './wake-listener.ts';
/** The columns an add fills. */
export const INSERT_COLUMNS = `queue, name, payload, state, priority, run_at, max_attempts, backoff, timeout_ms,
  dedupe_key, max_stalls, origin, created_at`;
/** An add's batch, the JSON parameter $1, as rows (`i`: the batch order). */
export const BATCH_ROWS = `json_to_recordset($1::json) AS batch(q text, n text, p text, s text, pr int, r bigint, m int,
  b text, t bigint, d text, ms int, o text, c bigint, i int)`;
/** A job whose dedupe key a live job of its queue holds is not inserted. */
export const ON_KEY_HELD = `ON CONFLICT (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'delayed', 'failed', 'active') DO NOTHING`;
/**
 * The most its texts (queue, name, payload, backoff, dedupe key, origin) may take, JSON-escaped, for a
 * job to be handed: its notification must stay under PostgreSQL's 8000 bytes with the rest of it.
 */
export const HANDOFF_MAX_TEXT = 6000;
/**
 * Adds of more jobs at once are not handed: handoff is for a trickle reaching idle workers, and the
 * handing statement slows a bulk add (it reads the batch twice and sorts it; W2 here went from 83 k
 * to 76 k jobs/s with it).
 */
export const HANDOFF_MAX_BATCH = 100;

/** PostgreSQL's SQLSTATE for a role without the privilege a statement needs. */
export const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Makes the commit of the statement's implicit transaction return before the WAL flush (and send
 * its notifications at once). Used by a claim on its own (see `claimRows`) and by an add that hands
 * a job (see `handingInsertSql`), which `addJobs` follows with `ADD_FLUSH`.
 */
export const COMMIT_WITHOUT_FLUSH = `set_config('synchronous_commit', 'off', true)`;

/**
 * A transaction that writes a record to the WAL (a logical decoding message, which is all it does:
 * nothing reads it unless a logical decoding consumer asks for Sundial's prefix) under a transaction
 * id, so with the session's own `synchronous_commit` (on by default) its commit waits for the WAL to
 * be flushed up to it. That flush covers every commit before it, the add's among them, so an add,
 * which resolves only after this, is as durable as a synchronous commit makes it. (A transaction
 * that only takes an id, `txid_current()`, writes no WAL of its own, and PostgreSQL commits such a
 * one without waiting.)
 */
export const ADD_FLUSH = {
  name: 'sundial:add-flush',
  text: `SELECT pg_logical_emit_message(true, 'sundial', 'add')`,
};
/**
 * Our connections join only by nested loop. Every join Sundial makes pairs a batch (outcomes,
 * claimed ids, a chunk to prune) with the rows of those ids, which a primary key lookup each finds
 * at any table size; but PostgreSQL keeps a named statement's generic plan, made after its first
 * five executions, until the table's statistics change, which without autovacuum (or between its
 * rounds) is never. Made while the jobs table was a few pages long, the outcomes' plan hashed a
 * scan of the whole table, and kept doing so once it held hundreds of thousands of rows: a soak
 * measured 1,667 buffers and 17.7 ms per finish-and-claim after 40 s, and completions falling from
 * 1,500 to 553 a second. With hash and merge joins off, the cheapest plan is the nested loop of
 * index lookups even on an empty table, so the plan kept stays right. (Planning every execution
 * afresh, `plan_cache_mode = force_custom_plan`, fixed it too, but doubled an add's latency at p50
 * and p99.) A test grows the table after the first executions and counts the rows read by scans.
 */
export const JOINS_BY_INDEX = 'SET enable_hashjoin = off; SET enable_mergejoin = off';
/** PostgreSQL's SQLSTATE for a unique index refusing a row. */
/**
 * The columns a claim returns, named: a prepared statement with `*` fails on every pooled
 * connection once a newer version's migration adds a column ("cached plan must not change result
 * type"), which would stop older workers in a rolling upgrade.
 */
export const JOB_COLUMNS = [
  'id',
  'queue',
  'name',
  'payload',
  'state',
  'priority',
  'run_at',
  'attempt',
  'max_attempts',
  'failures',
  'backoff',
  'timeout_ms',
  'dedupe_key',
  'stalls',
  'max_stalls',
  'lease_owner',
  'lease_expires_at',
  'result',
  'error',
  'dead_letter',
  'history',
  'origin',
  'created_at',
  'started_at',
  'finished_at',
];
/**
 * A handed job's columns in its notification (see `handingInsertSql`), read from the `inserted`
 * rows: the JSON columns as their text, as a row read from the table has them. The notification is
 * built with row_to_json, as json: through jsonb every column was converted twice, which took a
 * handed add about half as long again for that part.
 */
export const HANDED_JOB_COLUMNS = JOB_COLUMNS.map((column) =>
  column === 'history' || column === 'origin'
    ? `inserted.${column}::text AS ${column}`
    : `inserted.${column}`,
).join(', ');
/** Not a lease the asking worker holds: another owner's, or one of its own it does not know of. */
export const NOT_EXCEPTED = (owner: string, held: string) =>
  `(${owner}::text IS NULL OR lease_owner <> ${owner} OR (${held}::bigint[] IS NOT NULL AND NOT (id = ANY(${held}))))`;

export const OUTCOME_STATE: Record<JobOutcome['kind'], JobState> = {
  completed: 'completed',
  retry: 'failed',
  dead: 'dead',
};

/** A queue and dedupe key as one map key. */
export function dedupeSlot(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}

/** Outcomes as the one JSON text `outcomesCte` reads, and the type it is read as. */
export interface OutcomeBatch {
  text: string;
  reader: 'jsonb' | 'json';
}

/**
 * A batch whose text is up to this many UTF-16 units (at most three UTF-8 bytes each) is read as
 * `jsonb`, well within its 256 MB limit on a string or on all of an array's elements together.
 */
export const JSONB_BATCH_CHARS = 64 * 1024 * 1024;

/**
 * The outcomes as one JSON array: one text for the driver to send as it is (as ten arrays, each
 * string had to be escaped into an array literal first, a twentieth of a worker's time when
 * draining). The texts stored as text (result, error, dead letter) travel as JSON strings; the
 * attempt record as the one-element array appended to the history, or, for a plain completion
 * (see `isPlainCompletion`), only its start. Read as `jsonb`, which parses a record once for the
 * history (read as `json` and cast, a batch took twice as long); a batch too large for `jsonb` (a
 * text column takes up to 1 GB) is read as `json`.
 */
export function outcomeBatch(outcomes: readonly JobOutcome[]): OutcomeBatch {
  const text = JSON.stringify(
    outcomes.map((outcome) => ({
      id: outcome.id,
      owner: outcome.owner,
      attempt: outcome.attempt,
      state: OUTCOME_STATE[outcome.kind],
      // A field left out reads as NULL: less to send and to parse than a null.
      result: outcome.kind === 'completed' ? outcome.result : undefined,
      error: outcome.kind === 'completed' ? undefined : JSON.stringify(outcome.error),
      run_at: outcome.kind === 'retry' ? outcome.runAt : undefined,
      dead_letter: outcome.kind === 'dead' ? JSON.stringify(outcome.deadLetter) : undefined,
      finished_at: outcome.finishedAt,
      ...(isPlainCompletion(outcome)
        ? { started_at: outcome.record.startedAt }
        : { records: [outcome.record] }),
    })),
  );
  return { text, reader: text.length <= JSONB_BATCH_CHARS ? 'jsonb' : 'json' };
}

/**
 * A completion whose record the row's columns can give back as it is (see `outcomesCte`): the same
 * attempt, worker and finish, no error, and nothing more than a completed record holds.
 */
export function isPlainCompletion(outcome: JobOutcome): boolean {
  const record = outcome.record;
  return (
    outcome.kind === 'completed' &&
    record.outcome === 'completed' &&
    record.attempt === outcome.attempt &&
    record.finishedAt === outcome.finishedAt &&
    record.worker === outcome.owner &&
    Number.isSafeInteger(record.startedAt) &&
    Object.keys(record).every((key) => COMPLETED_RECORD_KEYS.has(key))
  );
}

export const COMPLETED_RECORD_KEYS = new Set(['attempt', 'outcome', 'worker', 'startedAt', 'finishedAt']);

/** RETURNING gives rows in no promised order; claims are handed out in claim order. */
export function claimedJobs(rows: readonly JobRow[]): Job[] {
  return rows.map(rowToJob).sort(claimOrder);
}

/**
 * The add statement with direct handoff (see handoff.ts), parameters: the batch, now, and whether
 * a commit that handed may skip the flush. For each queue of the batch whose claimable jobs are
 * none but these (nothing waiting, nothing due, not paused), the live offer with the most free
 * slots (locked; one another add holds is passed over; its listener must still hold its lock, see
 * wake-listener.ts) takes that many of its ready jobs, which are inserted already active under its
 * owner and leased as its claims are. Each goes to the offer's listener in a notification of its
 * own (a payload must stay under 8000 bytes: a job whose texts would not fit is not handed). The
 * other queues that got jobs are woken by the caller after the commit (see wake-sender.ts). The
 * deliveries are sent at the commit, which, once a job is handed, does not wait for the disk: the
 * worker starts it while the WAL is being flushed, and `addJobs` waits for that flush
 * (`ADD_FLUSH`) before it resolves.
 */
export function handingInsertSql(q: string): string {
  return `WITH batch AS (SELECT * FROM ${BATCH_ROWS}),
    chosen AS (
      SELECT best.* FROM (SELECT DISTINCT q FROM batch WHERE s = 'waiting') AS ready
      CROSS JOIN LATERAL (
        SELECT o.queue, o.owner, o.free, o.lease_ms, o.listener FROM ${q}.offers AS o
        WHERE o.queue = ready.q AND o.free > 0 AND o.offer_until >= $2
          AND NOT pg_try_advisory_xact_lock_shared(${HANDOFF_LOCK_CLASS}, o.listener)
          AND NOT EXISTS (SELECT 1 FROM ${q}.jobs AS j WHERE j.queue = ready.q AND j.state = 'waiting')
          AND NOT EXISTS (SELECT 1 FROM ${q}.jobs AS j
            WHERE j.queue = ready.q AND j.state IN ('delayed', 'failed') AND j.run_at <= $2)
          AND NOT EXISTS (SELECT 1 FROM ${q}.queues AS paused WHERE paused.name = ready.q AND paused.paused)
        ORDER BY o.free DESC LIMIT 1
        FOR UPDATE OF o SKIP LOCKED) AS best),
    handing AS (
      SELECT ready.i, chosen.owner, chosen.lease_ms FROM (
        SELECT i, q, row_number() OVER (PARTITION BY q ORDER BY i) AS n FROM batch
        WHERE s = 'waiting' AND EXISTS (SELECT 1 FROM chosen)
          AND octet_length(json_build_array(q, n, p, b, d, o)::text) <= ${HANDOFF_MAX_TEXT}) AS ready
      JOIN chosen ON chosen.queue = ready.q WHERE ready.n <= chosen.free),
    inserted AS (
      INSERT INTO ${q}.jobs (${INSERT_COLUMNS}, attempt, lease_owner, lease_expires_at, started_at)
      SELECT q, n, p, CASE WHEN h.owner IS NULL THEN s ELSE 'active' END, pr, r, m, b, t, d, ms, o::jsonb, c,
        CASE WHEN h.owner IS NULL THEN 0 ELSE 1 END, h.owner, c + h.lease_ms,
        CASE WHEN h.owner IS NULL THEN NULL ELSE c END
      FROM batch LEFT JOIN handing AS h ON h.i = batch.i
      ORDER BY batch.i
      ${ON_KEY_HELD}
      RETURNING ${JOB_COLUMNS.join(', ')}),
    used AS (
      UPDATE ${q}.offers AS o SET free = o.free - h.n
      FROM (SELECT queue, lease_owner, count(*) AS n FROM inserted WHERE lease_owner IS NOT NULL
        GROUP BY queue, lease_owner) AS h
      WHERE o.queue = h.queue AND o.owner = h.lease_owner),
    delivered AS (
      SELECT pg_notify('${HANDOFF_CHANNEL_PREFIX}' || chosen.listener, json_build_object('owner', chosen.owner,
        'jobs', json_build_array((SELECT row_to_json(job) FROM (SELECT ${HANDED_JOB_COLUMNS}) AS job)))::text)
      FROM inserted JOIN chosen ON chosen.queue = inserted.queue AND chosen.owner = inserted.lease_owner
      ORDER BY inserted.id)
    SELECT id, queue, dedupe_key, lease_owner IS NOT NULL AS handed,
      (SELECT CASE WHEN count(*) > 0 AND $3::boolean THEN ${COMMIT_WITHOUT_FLUSH} END FROM delivered) AS relaxed
    FROM inserted`;
}

/**
 * Makes due delayed and failed jobs waiting and claims, in one statement. Claimers lock their
 * candidates with SKIP LOCKED: rows another claimer is taking are passed over, never waited for.
 * The candidates are the first `limit` waiting jobs in claim order plus every due one; the best
 * `limit` of them are claimed and the other due ones become waiting, so no row changes twice.
 */
export function claimCtes(q: string): string {
  return `waiting AS (
      SELECT id, priority, run_at FROM ${q}.jobs
      WHERE queue = $1 AND state = 'waiting'
      ORDER BY priority DESC, run_at, id LIMIT $2
      FOR UPDATE SKIP LOCKED),
    due AS (
      SELECT id, priority, run_at FROM ${q}.jobs
      WHERE queue = $1 AND state IN ('delayed', 'failed') AND run_at <= $5
      FOR UPDATE SKIP LOCKED),
    next AS (
      SELECT id FROM (SELECT * FROM waiting UNION ALL SELECT * FROM due) AS candidate
      WHERE NOT EXISTS (SELECT 1 FROM ${q}.queues WHERE name = $1 AND paused)
      ORDER BY priority DESC, run_at, id LIMIT $2),
    promoted AS (
      UPDATE ${q}.jobs SET state = 'waiting'
      WHERE id IN (SELECT id FROM due) AND id NOT IN (SELECT id FROM next)
      RETURNING id),
    -- Jobs this statement made waiting, or held locked without claiming, were invisible to other
    -- claimers meanwhile: tell them, or they sleep until their poll.
    woken AS (
      SELECT pg_notify($6, $1) WHERE EXISTS (SELECT 1 FROM promoted)
        OR EXISTS (SELECT 1 FROM waiting WHERE id NOT IN (SELECT id FROM next))),
    claimed AS (
      UPDATE ${q}.jobs AS j
      SET state = 'active', attempt = j.attempt + 1, lease_owner = $3, lease_expires_at = $4, started_at = $5
      FROM next WHERE j.id = next.id
      RETURNING ${JOB_COLUMNS.map((column) => `j.${column}`).join(', ')})`;
}

/**
 * After `claimCtes`, for a claim that offers: the slots it leaves free become the owner's offer in
 * the queue (`until`, `listener` and `stands` are its parameters), or, when it took its whole
 * limit, the owner's offer goes. An offer that `stands` is not touched, not even locked, by a
 * claim that took nothing. It never waits for its offer row: an add that holds it (handing a job
 * under it) may itself wait for a job this claim or its outcomes changed (a dedupe key), and
 * waiting both ways is a deadlock. A row locked by an add is left as the add leaves it (one slot fewer);
 * the next claim that writes the offer sets it right.
 */
export function offerCtes(q: string, until: string, listener: string, stands: string): string {
  const tookAll = '(SELECT count(*) FROM claimed) >= $2';
  // A standing offer that is gone, or names a listener connection we no longer have (it dropped
  // and came back), is written anew all the same.
  const rewritesOffer = `(NOT ${stands}::boolean OR EXISTS (SELECT 1 FROM claimed)
    OR NOT EXISTS (SELECT 1 FROM ${q}.offers WHERE queue = $1 AND owner = $3 AND listener = ${listener}))`;
  return `mine AS (
      SELECT queue, owner FROM ${q}.offers WHERE queue = $1 AND owner = $3 AND ${rewritesOffer}
      FOR UPDATE SKIP LOCKED),
    offered AS (
      INSERT INTO ${q}.offers (queue, owner, free, offer_until, lease_ms, listener)
      SELECT $1, $3, $2 - (SELECT count(*) FROM claimed), ${until}, $4 - $5, ${listener}
      WHERE NOT ${tookAll} AND ${rewritesOffer}
      ON CONFLICT (queue, owner) DO NOTHING),
    reoffered AS (
      UPDATE ${q}.offers AS o SET free = $2 - (SELECT count(*) FROM claimed), offer_until = ${until},
        lease_ms = $4 - $5, listener = ${listener}
      FROM mine WHERE o.queue = mine.queue AND o.owner = mine.owner AND NOT ${tookAll}),
    unoffered AS (
      DELETE FROM ${q}.offers AS o USING mine
      WHERE o.queue = mine.queue AND o.owner = mine.owner AND ${tookAll})`;
}

/**
 * When the queue's next delayed or failed job is due, for the idle worker's timer (see
 * `FinishAndClaimResult.nextRunAt`), read by the claim itself. The statement's snapshot still sees
 * the due jobs it promoted or claimed as they were, so those are left out by id.
 */
export function nextDue(q: string): string {
  return `(SELECT min(run_at) FROM ${q}.jobs
    WHERE queue = $1 AND state IN ('delayed', 'failed') AND id NOT IN (SELECT id FROM due)) AS next_run_at`;
}

/**
 * Outcomes of distinct jobs, whatever their kinds, applied by one CTE (`done`, their ids) that
 * reads them from the JSON parameter `param` (see `outcomeBatch`). Each applies only while the job
 * is active under that owner and attempt: the lease owner tells, as only an active job has one
 * (a constraint of the table). Testing the state as well would let the planner find the jobs
 * through `jobs_by_state_sparse`, whose entries for jobs no longer active pile up between vacuums
 * (a drain of 20,000 went through 9,000 of them per batch), instead of one primary key lookup each.
 * A completion whose record says only what the row will say keeps the record's worker and start
 * in two columns instead of appending it to the history (see `rowToJob`): the record was most of
 * a completed row, and the row is written out in full once more per job, to the table and the WAL.
 * It joins the batch to the jobs by id with a nested loop of primary key lookups, whatever the
 * table's size (see `JOINS_BY_INDEX`).
 */
export function outcomesCte(q: string, param: string, reader: OutcomeBatch['reader']): string {
  return `done AS (
    UPDATE ${q}.jobs AS j SET
      state = o.state,
      result = CASE WHEN o.state = 'completed' THEN o.result ELSE j.result END,
      error = o.error,
      run_at = COALESCE(o.run_at, j.run_at),
      failures = j.failures + CASE WHEN o.state = 'completed' THEN 0 ELSE 1 END,
      dead_letter = CASE WHEN o.state = 'dead' THEN o.dead_letter ELSE j.dead_letter END,
      finished_at = CASE WHEN o.state = 'failed' THEN j.finished_at ELSE o.finished_at END,
      ${CLEAR_LEASE},
      history = CASE WHEN o.records IS NULL THEN j.history ELSE j.history || o.records::jsonb END,
      completed_worker = CASE WHEN o.started_at IS NULL THEN NULL ELSE o.owner END,
      completed_started_at = o.started_at
    FROM ${reader}_to_recordset(${param}::${reader}) AS o(id bigint, owner text, attempt int, state text,
      result text, error text, run_at bigint, dead_letter text, finished_at bigint, records ${reader},
      started_at bigint)
    WHERE j.id = o.id AND j.lease_owner = o.owner AND j.attempt = o.attempt
    RETURNING j.id)`;
}
