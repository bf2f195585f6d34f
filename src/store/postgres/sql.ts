/** SQL fragments the PostgreSQL store and its handoff share, for the `jobs` table's own columns. */

/** Clears an active job's lease (in an UPDATE's SET). */
export const CLEAR_LEASE = 'lease_owner = NULL, lease_expires_at = NULL';

/** Ids of this engine are row ids; anything else finds nothing (and never reaches a bigint cast). */
export function isRowId(id: string): boolean {
  return /^[1-9][0-9]{0,15}$/.test(id);
}

/**
 * An attempt record as the one-element array to append to `history`, read from the row's own
 * columns: by default the run the store ends itself (released, stalled, cancelled), under its lease
 * owner since its start. `finishedAt` and `error` are SQL expressions (a parameter, a column).
 */
export function runRecord(
  outcome: string,
  finishedAt: string,
  {
    worker = 'lease_owner',
    startedAt = 'started_at',
    error,
  }: { worker?: string; startedAt?: string; error?: string } = {},
): string {
  return `jsonb_build_array(jsonb_build_object('attempt', attempt, 'outcome', '${outcome}', 'worker', ${worker},
    'startedAt', ${startedAt}, 'finishedAt', ${finishedAt}${error ? `, 'error', ${error}` : ''}))`;
}

/**
 * The completed attempt's record kept in columns (see the store's `outcomesCte`), for an update that
 * takes a completed job out of its completed state, which must also set `CLEAR_COMPLETED`. Every
 * expression of an UPDATE reads the row as it was, so this may stand beside one that changes
 * `finished_at`.
 */
export const COMPLETED_RECORD = runRecord('completed', 'finished_at', {
  worker: 'completed_worker',
  startedAt: 'completed_started_at',
});
export const CLEAR_COMPLETED = 'completed_worker = NULL, completed_started_at = NULL';

/**
 * Puts back to waiting the jobs of a queue active under an owner but not among its held ids ($1:
 * now, $2: queue, $3: owner, $4: held ids), each with a `released` record (see `releaseOrphans`).
 */
export function releaseOrphansSql(q: string): string {
  return `UPDATE ${q}.jobs SET state = 'waiting', ${CLEAR_LEASE},
      history = history || ${runRecord('released', '$1::bigint')}
    WHERE queue = $2 AND state = 'active' AND lease_owner = $3 AND NOT (id = ANY($4::bigint[]))
    RETURNING id, attempt`;
}
