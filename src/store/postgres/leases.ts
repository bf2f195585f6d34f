import type { HeldLease, OwnedJobs, RecoverStalledRequest, StalledJob } from '../store.ts';
import { STALLED_ERROR_JSON } from '../store.ts';
import type { PgContext } from './context.ts';
import { NOT_EXCEPTED } from './job-sql.ts';
import { CLEAR_LEASE, isRowId, releaseOrphansSql, runRecord } from './sql.ts';

/**
 * Leases of the PostgreSQL engine: renewed by workers, given back (on close, or as orphans a worker
 * never heard of) and recovered when their worker stopped renewing them (stall recovery).
 */
export class PgLeases {
  private readonly pg: PgContext;

  constructor(context: PgContext) {
    this.pg = context;
  }

  async renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.pg.query<{ id: number }>(
      `UPDATE ${this.pg.q}.jobs AS j SET lease_expires_at = $1
       FROM unnest($2::bigint[], $3::int[]) AS held(id, attempt)
       WHERE j.id = held.id AND j.attempt = held.attempt AND j.lease_owner = $4 AND j.state = 'active'
       RETURNING j.id`,
      [leaseExpiresAt, leases.map((lease) => lease.id), leases.map((lease) => lease.attempt), owner],
    );
    const held = new Set(rows.map((row) => String(row.id)));
    return leases.filter((lease) => held.has(lease.id)).map((lease) => lease.id);
  }

  async releaseJobs(owner: string, ids: readonly string[], now: number): Promise<number> {
    const valid = ids.filter(isRowId);
    if (valid.length === 0) return 0;
    const released = await this.pg.transaction(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE ${this.pg.q}.jobs SET state = 'waiting', ${CLEAR_LEASE}, history = history || ${runRecord('released', '$1::bigint')}
         WHERE id = ANY($2::bigint[]) AND state = 'active' AND lease_owner = $3`,
        [now, valid, owner],
      );
      if ((rowCount ?? 0) > 0) await this.pg.notifyAll(client);
      return rowCount ?? 0;
    });
    if (released > 0) this.pg.wakeLocal('queues');
    return released;
  }

  /**
   * Two statements: the offer's delete waits for an add that holds the offer (it locks it), and the
   * release that follows reads anew, so it sees the job such an add handed.
   */
  async releaseOrphans(request: OwnedJobs): Promise<HeldLease[]> {
    const rows = await this.pg.transaction(async (client) => {
      await client.query(`DELETE FROM ${this.pg.q}.offers WHERE queue = $1 AND owner = $2`, [
        request.queue,
        request.owner,
      ]);
      const { rows } = await client.query<{ id: string; attempt: number }>(releaseOrphansSql(this.pg.q), [
        request.now,
        request.queue,
        request.owner,
        request.held.filter(isRowId),
      ]);
      if (rows.length > 0) await this.pg.notify(client, [request.queue]);
      return rows;
    });
    if (rows.length > 0) this.pg.wakeLocal([request.queue]);
    return rows.map((row) => ({ id: String(row.id), attempt: row.attempt }));
  }

  async recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]> {
    const queue = request.queue ?? null;
    const except = request.exceptOwner ?? null;
    const held = request.exceptHeld ? request.exceptHeld.filter(isRowId) : null;
    const stalled = await this.pg.transaction(async (client) => {
      const recovered = await client.query<{ id: number; queue: string; name: string }>(
        `UPDATE ${this.pg.q}.jobs SET state = 'waiting', stalls = stalls + 1, ${CLEAR_LEASE},
           history = history || ${runRecord('stalled', '$1::bigint')}
         WHERE state = 'active' AND lease_expires_at < $1 AND stalls < max_stalls
           AND ($2::text IS NULL OR queue = $2) AND ${NOT_EXCEPTED('$3', '$4')}
         RETURNING id, queue, name`,
        [request.now, queue, except, held],
      );
      const buried = await client.query<{ id: number; queue: string; name: string }>(
        `UPDATE ${this.pg.q}.jobs SET state = 'dead', stalls = stalls + 1, error = $1::text, finished_at = $2, ${CLEAR_LEASE},
           dead_letter = jsonb_build_object('reason', 'stalled', 'at', $2::bigint, 'failures', failures,
             'stalls', stalls + 1, 'queue', queue)::text,
           history = history || ${runRecord('stalled', '$2::bigint', { error: '$1::jsonb' })}
         WHERE state = 'active' AND lease_expires_at < $2 AND stalls >= max_stalls
           AND ($3::text IS NULL OR queue = $3) AND ${NOT_EXCEPTED('$4', '$5')}
         RETURNING id, queue, name`,
        [STALLED_ERROR_JSON, request.now, queue, except, held],
      );
      if (recovered.rows.length > 0) await this.pg.notifyAll(client);
      // Offers of workers that stopped renewing them (a process gone without withdrawing): each add
      // to their queue would read them.
      // (Passing over one an add holds: waiting for it here, holding the jobs just recovered, could
      // deadlock with an add that waits for one of them.)
      await client.query(
        `DELETE FROM ${this.pg.q}.offers WHERE (queue, owner) IN
           (SELECT queue, owner FROM ${this.pg.q}.offers WHERE offer_until < $1 FOR UPDATE SKIP LOCKED)`,
        [request.now],
      );
      return [
        ...recovered.rows.map((row) => ({
          id: String(row.id),
          queue: row.queue,
          name: row.name,
          recovered: true,
        })),
        ...buried.rows.map((row) => ({
          id: String(row.id),
          queue: row.queue,
          name: row.name,
          recovered: false,
        })),
      ];
    });
    if (stalled.some((job) => job.recovered)) this.pg.wakeLocal('queues');
    return stalled;
  }
}
