import type pg from 'pg';
import { type Job, StoreClosedError, StoreUnavailableError } from '../../core/index.ts';
import { SharedCall } from '../../core/shared-call.ts';
import { pgDriver } from '../drivers.ts';
import { backoffJson } from '../encoding.ts';
import { Listeners, type WakeTarget } from '../listeners.ts';
import { RoleDelegatingStore } from '../role-delegation.ts';
import type { JobRow } from '../rows.ts';
import {
  type AddedJob,
  type ClaimRequest,
  type FinishAndClaimResult,
  type HeldLease,
  type JobOutcome,
  type NewJob,
  type OwnedJobs,
  type RecoverStalledRequest,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
} from '../store.ts';
import type { PgContext, Queryable } from './context.ts';
import { unavailableOr } from './errors.ts';
import { PgHandoff } from './handoff.ts';
import {
  ADD_FLUSH,
  BATCH_ROWS,
  COMMIT_WITHOUT_FLUSH,
  claimCtes,
  claimedJobs,
  dedupeSlot,
  HANDOFF_MAX_BATCH,
  handingInsertSql,
  INSERT_COLUMNS,
  INSUFFICIENT_PRIVILEGE,
  JOB_COLUMNS,
  JOINS_BY_INDEX,
  NOT_EXCEPTED,
  nextDue,
  ON_KEY_HELD,
  offerCtes,
  outcomeBatch,
  outcomesCte,
} from './job-sql.ts';
import { PgLocks } from './locks.ts';
import { PgMaintenanceVacuum } from './maintenance-vacuum.ts';
import { dedupeHolder, PgJobManagement } from './management.ts';
import { migratePostgres } from './migrations.ts';
import { checkOptions } from './options.ts';
import { PgSchedules } from './schedules.ts';
import { CLEAR_LEASE, isRowId, releaseOrphansSql, runRecord } from './sql.ts';
import { PgWakeListener } from './wake-listener.ts';
import { PgWakeSender, WAKE_SQL } from './wake-sender.ts';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database`; default: the `PG*` environment variables, as `pg` reads them. */
  connectionString?: string;
  /** Schema holding Sundial's tables, so several apps can share a database. Default `sundial`. */
  schema?: string;
  /** Most connections the store opens at once (one more listens for wake-ups). Default 10. */
  poolSize?: number;
  /** Told about trouble outside any one call (a dropped listening connection, say). */
  onError?: (error: unknown) => void;
  /**
   * Direct handoff of new jobs to idle workers (see the README). Default true. Turn it off where the
   * listening connection is not a server session of its own, as behind PgBouncer in transaction
   * mode: its lock would not say whether it still listens.
   */
  handoff?: boolean;
  /**
   * Opt-in: runs `VACUUM (ANALYZE)` on Sundial's busy tables every this many ms, from one process
   * at a time (see maintenance-vacuum.ts). For servers whose autovacuum is off or cannot keep up;
   * needs the role that owns the tables. `true` means every 30 s. Default off.
   */
  maintenanceVacuum?: boolean | number;
}

/** The maintenance vacuum's interval when the option says only `true`. */
const MAINTENANCE_VACUUM_MS = 30_000;

// bigint columns as numbers (epoch ms and ids fit well within 2^53), JSON columns as their text,
// which the shared row mapping parses. Only this store's connections are configured so.
function columnTypes(): pg.CustomTypesConfig {
  const { types } = pgDriver();
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === types.builtins.INT8) return (text: string) => Number(text);
      if (oid === types.builtins.JSONB || oid === types.builtins.JSON) return (text: string) => text;
      return types.getTypeParser(oid, format);
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

/**
 * The PostgreSQL engine. Claims take rows with `FOR UPDATE SKIP LOCKED`, so claimers never wait on
 * each other; partial indexes cover only what is claimable; completions go in one statement per
 * batch. Wake-ups travel by LISTEN/NOTIFY, sent inside the transaction that makes work claimable
 * (delivered at its commit); workers poll only as a backstop.
 */
export class PostgresStore extends RoleDelegatingStore implements Store {
  readonly engine = 'postgres';
  readonly pipelineDepth = 2;
  readonly addBatchParts = 1;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly q: string;
  /** The NOTIFY channel of this schema: each notification's payload names a queue or a channel. */
  private readonly channel: string;
  private readonly listeners: Listeners;
  private readonly wake: PgWakeListener;
  /** The add statement that hands jobs (see handingInsertSql), built once; null with handoff off. */
  private readonly handingInsert: string | null;
  /** Jobs handed from adds straight to idle workers (see handoff.ts); unless turned off. */
  readonly handoff: PgHandoff | undefined;
  /** Wake-ups for adds and retries, sent apart from the statements that made the work (see there). */
  private readonly wakes: PgWakeSender;
  /** The durable commit every add waits for (see `ADD_FLUSH`): one serves all adds before it. */
  private readonly addFlush = new SharedCall(() => this.pool.query(ADD_FLUSH));
  /**
   * Whether an add that hands a job may commit before the disk flush: only where `ADD_FLUSH` runs
   * (checked at init), so that such an add can still wait for one.
   */
  private handBeforeFlush = true;
  private initialised: Promise<void> | null = null;
  private closed = false;
  private readonly onError: (error: unknown) => void;
  private readonly maintenance: PgMaintenanceVacuum | null;

  constructor(options: PostgresStoreOptions = {}) {
    super();
    checkOptions(options);
    this.schema = options.schema ?? 'sundial';
    this.q = `"${this.schema}"`;
    this.channel = `sundial_${this.schema}`;
    this.onError = options.onError ?? (() => {});
    this.listeners = new Listeners(this.onError);
    const types = columnTypes();
    const config: pg.PoolConfig = {
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      types,
      // A connection half-open after a failover must not hang a worker's round for ever.
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      // Set on each new connection before the pool hands it out (pg-pool awaits it).
      onConnect: async (client) => {
        await client.query(JOINS_BY_INDEX);
      },
    };
    this.pool = new (pgDriver().Pool)(config);
    // An idle connection that the server dropped must not crash the process.
    this.pool.on('error', (error) => this.onError(error));
    this.wake = new PgWakeListener(
      { connectionString: options.connectionString, types, keepAlive: true, connectionTimeoutMillis: 10_000 },
      this.channel,
      (name) => this.wakeLocal(name === null ? 'everything' : name === '*' ? 'queues' : [name]),
      (error) => this.onError(error),
      options.handoff !== false,
    );
    this.wakes = new PgWakeSender(
      (names) => this.pool.query({ name: 'sundial:wake', text: WAKE_SQL, values: [this.channel, names] }),
      (error) => this.onError(error),
    );
    const vacuumEvery =
      options.maintenanceVacuum === true ? MAINTENANCE_VACUUM_MS : options.maintenanceVacuum || null;
    this.maintenance =
      vacuumEvery === null
        ? null
        : new PgMaintenanceVacuum(
            { pool: this.pool, schema: this.schema, q: this.q, onError: (error) => this.onError(error) },
            vacuumEvery,
          );
    const context: PgContext = {
      q: this.q,
      query: (text, values) => this.query(text, values),
      transaction: (work) => this.transaction(work),
      notify: (client, names) => this.notify(client, names),
      wakeLocal: (target) => this.wakeLocal(target),
    };
    this.roles = {
      management: new PgJobManagement(context),
      schedules: new PgSchedules(context, (client, jobs) => this.insertJobs(client, jobs)),
      locks: new PgLocks(context),
    };
    this.handingInsert = options.handoff === false ? null : handingInsertSql(this.q);
    this.handoff =
      options.handoff === false
        ? undefined
        : new PgHandoff({
            q: this.q,
            listener: this.wake,
            ready: () => this.ready(),
            query: (text, values) => this.query(text, values),
            transaction: (work) => this.transaction(work),
            notify: (client, queues) => this.notify(client, queues),
            wakeLocal: (queues) => this.wakeLocal(queues),
            onError: (error) => this.onError(error),
          });
  }

  init(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    this.initialised ??= (async () => {
      const client = await this.pool.connect().catch((error) => {
        throw unavailableOr(error);
      });
      const onError = (error: unknown) => this.onError(error);
      client.on('error', onError);
      try {
        await migratePostgres(client, this.schema, this.q);
        await this.checkAddFlush(client);
        await this.warmAddStatement(client);
      } catch (error) {
        throw unavailableOr(error);
      } finally {
        client.off('error', onError);
        client.release();
      }
      if (this.closed) return;
      // Listening before anything else happens: a notification sent before LISTEN is lost.
      this.wake.start();
      await this.wake.listening();
      this.maintenance?.start();
    })();
    this.initialised.catch(() => {
      this.initialised = null; // a server that was down at first may answer on the next try
    });
    return this.initialised;
  }

  /**
   * Plans the handing add statement once (EXPLAIN, which runs nothing) on the connection an add made
   * soon after start takes: its server process then reads the catalogs of the tables and indexes
   * the add touches now, not during that add, which made a fresh process's first adds several ms
   * slower and the adds right after them open more connections, each as slow. It helps only while
   * that connection stays in the pool (it is closed after 10 s idle, pg's default), and connections
   * opened later start cold. A role that may not add jobs (a dashboard's) is refused here and goes
   * without; any other failure is reported.
   */
  private async warmAddStatement(client: pg.PoolClient): Promise<void> {
    if (this.handingInsert === null) return;
    await client
      .query({ text: `EXPLAIN ${this.handingInsert}`, values: this.handingValues('[]', 0) })
      .catch(this.reportUnlessUnprivileged);
  }

  /** For start-up checks that a role without the privilege (a dashboard's) may fail quietly. */
  private readonly reportUnlessUnprivileged = (error: unknown): void => {
    if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) this.onError(error);
  };

  /**
   * Runs `ADD_FLUSH` once. Where it is refused (a role denied the function, a server without it),
   * adds that hand a job commit durably instead: committed and handed, such an add must not then
   * fail on its flush (a caller retrying it would add the job twice). Only a refusal other than a
   * missing privilege is reported.
   */
  private async checkAddFlush(client: pg.PoolClient): Promise<void> {
    if (this.handingInsert === null) return;
    await client.query(ADD_FLUSH).catch((error: unknown) => {
      this.handBeforeFlush = false;
      this.reportUnlessUnprivileged(error);
    });
  }

  /** The parameters of `handingInsertSql`: the batch, now, commit before the flush. */
  private handingValues(batch: string, now: number): unknown[] {
    return [batch, now, this.handBeforeFlush];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.maintenance?.stop();
    await this.wake.stop();
    await this.pool.end();
  }

  async addJobs(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    if (jobs.length === 0) return [];
    await this.ready();
    // One statement: no explicit transaction, one round trip. One that hands a job to an idle
    // worker commits without waiting for the disk, so the job reaches the worker at once; the add
    // then waits for a durable commit after it (see `ADD_FLUSH`). The queues whose jobs were not
    // handed are woken after the commit, by a statement of its own (see wake-sender.ts).
    const handed = new Set<string>();
    const woken = new Set<string>();
    const added = await this.insertJobs(this.pool, jobs, { notify: true, handed, woken })
      .then(async (added) => {
        // A duplicate too: the job holding its key may be a handed one whose flush is under way.
        const flushed =
          this.handBeforeFlush && (handed.size > 0 || added.some((entry) => entry.duplicate))
            ? this.addFlush.request()
            : null;
        await Promise.all([flushed, this.wakes.wake(woken)]);
        return added;
      })
      .catch((error) => {
        throw unavailableOr(error);
      });
    // This process's workers too, but not for jobs already handed to a worker: nothing to claim.
    this.wakeLocal(new Set(jobs.filter((_, i) => !handed.has(added[i]!.id)).map((job) => job.queue)));
    return added;
  }

  async claimJobs(request: ClaimRequest): Promise<Job[]> {
    return (await this.claimAlone(request)).jobs;
  }

  async finishJobs(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    await this.ready();
    const applied = await this.applyOutcomes(this.pool, outcomes).catch((error) => {
      throw unavailableOr(error);
    });
    if (outcomes.some((outcome) => outcome.kind === 'retry')) await this.announceAll();
    return applied;
  }

  async finishAndClaim(
    outcomes: readonly JobOutcome[],
    claim: ClaimRequest | null,
  ): Promise<FinishAndClaimResult> {
    if (outcomes.length === 0)
      return { applied: [], ...(claim ? await this.claimAlone(claim) : { jobs: [] }) };
    const retried = outcomes.some((outcome) => outcome.kind === 'retry');
    const distinct = new Set(outcomes.map((outcome) => outcome.id)).size === outcomes.length;
    const batch = claim && distinct ? outcomeBatch(outcomes) : null;
    let result: FinishAndClaimResult;
    if (claim && batch?.reader === 'jsonb') {
      // The usual case: one statement stores the outcomes and claims, one round trip and one commit.
      // The applied ids come once, on the first row: on every row they cost a quadratic parse.
      await this.ready();
      const offer = this.offerOrDropStale(claim);
      const { rows } = await this.pool
        .query<JobRow & { applied: number[] | null; next_run_at: number | null }>({
          name: `${this.schema}:finish-and-claim${offer ? '-offer' : ''}`,
          text: `WITH ${outcomesCte(this.q, '$7', 'jsonb')}, ${claimCtes(this.q)}${offer ? `, ${offerCtes(this.q, '$8', '$9', '$10')}` : ''}
                 SELECT ${JOB_COLUMNS.map((column) => `c.${column}`).join(', ')},
                   CASE WHEN c.n IS NULL OR c.n = 1 THEN head.applied END AS applied, head.woken, head.next_run_at
                 FROM (SELECT (SELECT array_agg(id) FROM done) AS applied, (SELECT count(*) FROM woken) AS woken,
                   ${nextDue(this.q)}) AS head
                 LEFT JOIN (SELECT *, row_number() OVER () AS n FROM claimed) AS c ON true`,
          values: [...this.claimValues(claim), batch.text, ...(offer ?? [])],
        })
        .catch((error) => {
          throw unavailableOr(error);
        });
      const applied = new Set((rows.find((row) => row.applied !== null)?.applied ?? []).map(String));
      result = {
        applied: outcomes.map((outcome) => applied.has(outcome.id)),
        jobs: claimedJobs(rows.filter((row) => row.id !== null)),
        // A retry stored by this statement is not in its snapshot: then the caller asks afterwards.
        ...(retried ? {} : { nextRunAt: rows[0]!.next_run_at }),
      };
    } else if (!claim) {
      return { applied: await this.finishJobs(outcomes), jobs: [] };
    } else {
      // A batch that names a job twice (rare) goes in rounds (see `applyOutcomes`); a huge one is
      // read as json (see `outcomeBatch`).
      result = await this.transaction(async (client) => ({
        applied: await this.applyOutcomes(client, outcomes),
        ...(await this.claimRows(client, claim)),
      }));
    }
    if (retried) await this.announceAll();
    return result;
  }

  /** A claim in its own statement and implicit transaction, so it may commit asynchronously. */
  private async claimAlone(request: ClaimRequest): Promise<{ jobs: Job[]; nextRunAt: number | null }> {
    await this.ready();
    try {
      return await this.claimRows(this.pool, request, { asyncCommit: true });
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  async renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.query<{ id: number }>(
      `UPDATE ${this.q}.jobs AS j SET lease_expires_at = $1
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
    const released = await this.transaction(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE ${this.q}.jobs SET state = 'waiting', ${CLEAR_LEASE}, history = history || ${runRecord('released', '$1::bigint')}
         WHERE id = ANY($2::bigint[]) AND state = 'active' AND lease_owner = $3`,
        [now, valid, owner],
      );
      if ((rowCount ?? 0) > 0) await this.notifyAll(client);
      return rowCount ?? 0;
    });
    if (released > 0) this.wakeLocal('queues');
    return released;
  }

  /**
   * Two statements: the offer's delete waits for an add that holds the offer (it locks it), and the
   * release that follows reads anew, so it sees the job such an add handed.
   */
  async releaseOrphans(request: OwnedJobs): Promise<HeldLease[]> {
    const rows = await this.transaction(async (client) => {
      await client.query(`DELETE FROM ${this.q}.offers WHERE queue = $1 AND owner = $2`, [
        request.queue,
        request.owner,
      ]);
      const { rows } = await client.query<{ id: string; attempt: number }>(releaseOrphansSql(this.q), [
        request.now,
        request.queue,
        request.owner,
        request.held.filter(isRowId),
      ]);
      if (rows.length > 0) await this.notify(client, [request.queue]);
      return rows;
    });
    if (rows.length > 0) this.wakeLocal([request.queue]);
    return rows.map((row) => ({ id: String(row.id), attempt: row.attempt }));
  }

  async recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]> {
    const queue = request.queue ?? null;
    const except = request.exceptOwner ?? null;
    const held = request.exceptHeld ? request.exceptHeld.filter(isRowId) : null;
    const stalled = await this.transaction(async (client) => {
      const recovered = await client.query<{ id: number; queue: string; name: string }>(
        `UPDATE ${this.q}.jobs SET state = 'waiting', stalls = stalls + 1, ${CLEAR_LEASE},
           history = history || ${runRecord('stalled', '$1::bigint')}
         WHERE state = 'active' AND lease_expires_at < $1 AND stalls < max_stalls
           AND ($2::text IS NULL OR queue = $2) AND ${NOT_EXCEPTED('$3', '$4')}
         RETURNING id, queue, name`,
        [request.now, queue, except, held],
      );
      const buried = await client.query<{ id: number; queue: string; name: string }>(
        `UPDATE ${this.q}.jobs SET state = 'dead', stalls = stalls + 1, error = $1::text, finished_at = $2, ${CLEAR_LEASE},
           dead_letter = jsonb_build_object('reason', 'stalled', 'at', $2::bigint, 'failures', failures,
             'stalls', stalls + 1, 'queue', queue)::text,
           history = history || ${runRecord('stalled', '$2::bigint', { error: '$1::jsonb' })}
         WHERE state = 'active' AND lease_expires_at < $2 AND stalls >= max_stalls
           AND ($3::text IS NULL OR queue = $3) AND ${NOT_EXCEPTED('$4', '$5')}
         RETURNING id, queue, name`,
        [STALLED_ERROR_JSON, request.now, queue, except, held],
      );
      if (recovered.rows.length > 0) await this.notifyAll(client);
      // Offers of workers that stopped renewing them (a process gone without withdrawing): each add
      // to their queue would read them.
      // (Passing over one an add holds: waiting for it here, holding the jobs just recovered, could
      // deadlock with an add that waits for one of them.)
      await client.query(
        `DELETE FROM ${this.q}.offers WHERE (queue, owner) IN
           (SELECT queue, owner FROM ${this.q}.offers WHERE offer_until < $1 FOR UPDATE SKIP LOCKED)`,
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
    if (stalled.some((job) => job.recovered)) this.wakeLocal('queues');
    return stalled;
  }

  async nextRunAt(queue: string): Promise<number | null> {
    const { rows } = await this.query<{ t: number | null }>(
      `SELECT min(run_at) AS t FROM ${this.q}.jobs WHERE queue = $1 AND state IN ('delayed', 'failed')`,
      [queue],
    );
    return rows[0]?.t ?? null;
  }

  subscribe(queue: string, listener: () => void): () => void {
    if (!this.closed) this.wake.start();
    return this.listeners.add(queue, listener);
  }

  /** Calls this process's listeners (see `Listeners.wake`). */
  private wakeLocal(target: WakeTarget): void {
    this.listeners.wake(target);
  }

  /** NOTIFY inside the transaction: delivered when it commits, never before. */
  private async notify(client: pg.PoolClient, names: Iterable<string>): Promise<void> {
    const list = [...new Set(names)];
    if (list.length === 0) return;
    await client.query('SELECT pg_notify($1, name) FROM unnest($2::text[]) AS name', [this.channel, list]);
  }

  /** Every queue may have work: an empty payload wakes every worker (not schedulers or cancels). */
  private async notifyAll(client: pg.PoolClient): Promise<void> {
    await client.query('SELECT pg_notify($1, $2)', [this.channel, '*']);
  }

  /**
   * After a commit that scheduled retries: other workers re-arm their timers. A failure here must
   * not report the committed work as failed (their backstop poll covers a lost notice).
   */
  private async announceAll(): Promise<void> {
    this.wakeLocal('queues');
    await this.wakes.wake(['*']);
  }

  /**
   * Inserts jobs in order in one statement, each deduped against live jobs (and earlier ones of the
   * batch). Identity values follow the insert order, which follows the batch order, so the new
   * ids, in order, belong to the jobs that were inserted, in order. With `notify`, the statement
   * also hands jobs to idle workers (see `handingInsertSql`), and the queues of the jobs inserted
   * and not handed go into `woken`, for the caller to wake once the statement has committed.
   */
  private async insertJobs(
    client: Queryable,
    jobs: readonly NewJob[],
    { notify = false, handed, woken }: { notify?: boolean; handed?: Set<string>; woken?: Set<string> } = {},
  ): Promise<AddedJob[]> {
    if (jobs.length === 0) return [];
    // The batch travels as one JSON document: encoding it is much cheaper than thirteen text arrays,
    // and PostgreSQL reads it back as rows in one pass. `i` keeps the batch order.
    const batch = JSON.stringify(
      jobs.map((job, i) => ({
        q: job.queue,
        n: job.name,
        p: job.payload,
        s: job.state,
        pr: job.priority,
        r: job.runAt,
        m: job.maxAttempts,
        b: backoffJson(job.backoff),
        t: job.timeout,
        d: job.dedupeKey,
        ms: job.maxStalls,
        o: job.origin,
        c: job.createdAt,
        i,
      })),
    );
    const plain = `INSERT INTO ${this.q}.jobs (${INSERT_COLUMNS})
      SELECT q, n, p, s, pr, r, m, b, t, d, ms, o::jsonb, c FROM ${BATCH_ROWS} ORDER BY i
      ${ON_KEY_HELD} RETURNING id, queue, dedupe_key`;
    // Named, so each connection parses and plans it once: a single add is a round trip, no more.
    const { rows } = await client.query<{
      id: number;
      queue: string;
      dedupe_key: string | null;
      handed?: boolean;
    }>(
      notify && this.handingInsert !== null && jobs.length <= HANDOFF_MAX_BATCH
        ? {
            name: `${this.schema}:insert-hand`,
            text: this.handingInsert,
            values: this.handingValues(batch, jobs[0]!.createdAt),
          }
        : { name: `${this.schema}:insert`, text: plain, values: [batch] },
    );
    for (const row of rows) {
      if (row.handed) handed?.add(String(row.id));
      else woken?.add(row.queue);
    }
    // Identity values follow the insert order, which follows the batch order: the unkeyed jobs'
    // new ids, in order, are the unkeyed rows' ids, in order. Keyed jobs are found by their key.
    const unkeyed = rows
      .filter((row) => row.dedupe_key === null)
      .map((row) => row.id)
      .sort((a, b) => a - b);
    const insertedByKey = new Map<string, number>();
    for (const row of rows)
      if (row.dedupe_key !== null) insertedByKey.set(dedupeSlot(row.queue, row.dedupe_key), row.id);
    const out: AddedJob[] = new Array(jobs.length);
    const missing: number[] = [];
    const claimedKeys = new Set<string>();
    let next = 0;
    jobs.forEach((job, i) => {
      if (job.dedupeKey === null) {
        out[i] = { id: String(unkeyed[next++]!), duplicate: false };
        return;
      }
      const slot = dedupeSlot(job.queue, job.dedupeKey);
      const inserted = insertedByKey.get(slot);
      if (inserted === undefined) missing.push(i);
      else {
        // The first job with the key is the one stored; later ones in the batch are its duplicates.
        out[i] = { id: String(inserted), duplicate: claimedKeys.has(slot) };
        claimedKeys.add(slot);
      }
    });
    // Keys held by live jobs from before this batch: report their holders. A holder that finished
    // since (outside a transaction, it can) freed its key: that job is added after all.
    const freed: number[] = [];
    for (const i of missing) {
      const job = jobs[i]!;
      const holder = await dedupeHolder(client, this.q, job.queue, job.dedupeKey!);
      if (holder) out[i] = { id: holder, duplicate: true };
      else freed.push(i);
    }
    if (freed.length > 0) {
      const retried = await this.insertJobs(
        client,
        freed.map((i) => jobs[i]!),
        { notify, handed, woken },
      );
      freed.forEach((i, k) => {
        out[i] = retried[k]!;
      });
    }
    return out;
  }

  private claimValues(request: ClaimRequest): unknown[] {
    return [request.queue, request.limit, request.owner, request.leaseExpiresAt, request.now, this.channel];
  }

  /**
   * Claims in one statement. With `asyncCommit` (a claim on its own, in its own implicit
   * transaction) its commit does not wait for the WAL flush: a claim that a server crash loses
   * only puts its jobs back to waiting, as an expired lease would, and any durable commit after it
   * (the job's outcome) flushes it first. That saves a disk flush between a job's enqueue and its
   * start. Outcomes stay durable, and an add is durable once it resolves (see `addJobs`).
   */
  private async claimRows(
    client: Queryable,
    request: ClaimRequest,
    { asyncCommit = false } = {},
  ): Promise<{ jobs: Job[]; nextRunAt: number | null }> {
    const relax = asyncCommit ? `, ${COMMIT_WITHOUT_FLUSH} AS relaxed` : '';
    const offer = this.offerOrDropStale(request);
    const { rows } = await client.query<JobRow & { next_run_at: number | null }>({
      name: `${this.schema}:claim${asyncCommit ? '-async-commit' : ''}${offer ? '-offer' : ''}`,
      // One row at least (nulls when nothing was claimed), so `woken` and `relaxed` are evaluated.
      text: `WITH ${claimCtes(this.q)}${offer ? `, ${offerCtes(this.q, '$7', '$8', '$9')}` : ''}
             SELECT ${JOB_COLUMNS.map((column) => `c.${column}`).join(', ')}, head.*
             FROM (SELECT (SELECT count(*) FROM woken) AS woken, ${nextDue(this.q)}${relax}) AS head
             LEFT JOIN claimed AS c ON true`,
      values: [...this.claimValues(request), ...(offer ?? [])],
    });
    return { jobs: claimedJobs(rows.filter((row) => row.id !== null)), nextRunAt: rows[0]!.next_run_at };
  }

  /**
   * A claim's offer (see `ClaimRequest.offerUntil`): until when, our listener's pid, and whether the
   * earlier offer stands; or none.
   * While the listener is away its earlier offers name a backend that may still be there (a cut
   * the server has not noticed yet): they go, so nothing is handed to a delivery nobody hears.
   */
  private offerOrDropStale(request: ClaimRequest): [number, number, boolean] | null {
    if (request.offerUntil === undefined) return null;
    if (!this.handoff) return null;
    const listener = this.wake.pid;
    if (listener === null) {
      this.query(`DELETE FROM ${this.q}.offers WHERE queue = $1 AND owner = $2`, [
        request.queue,
        request.owner,
      ]).catch((error: unknown) => this.onError(error));
      return null;
    }
    return [request.offerUntil, listener, request.offerStands === true];
  }

  /**
   * Applies outcomes held under the right owner and attempt, in order. A batch is one statement;
   * one that names a job twice (rare) goes in rounds, each job once per round, so a later outcome
   * sees what an earlier one did, as if they were applied one by one.
   */
  private async applyOutcomes(client: Queryable, outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    const applied: boolean[] = new Array(outcomes.length).fill(false);
    let pending = outcomes.map((outcome, index) => ({ outcome, index }));
    while (pending.length > 0) {
      const seen = new Set<string>();
      const round = pending.filter(({ outcome }) => !seen.has(outcome.id) && seen.add(outcome.id));
      pending = pending.filter((entry) => !round.includes(entry));
      const done = await this.applyRound(
        client,
        round.map(({ outcome }) => outcome),
      );
      round.forEach(({ index }, i) => {
        applied[index] = done[i]!;
      });
    }
    return applied;
  }

  /** One statement for outcomes of distinct jobs, whatever their kinds. */
  private async applyRound(client: Queryable, outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    const batch = outcomeBatch(outcomes);
    const { rows } = await client.query<{ id: number }>({
      name: `${this.schema}:finish-${batch.reader}`,
      text: `WITH ${outcomesCte(this.q, '$1', batch.reader)} SELECT id FROM done`,
      values: [batch.text],
    });
    const applied = new Set(rows.map((row) => String(row.id)));
    return outcomes.map((outcome) => applied.has(outcome.id));
  }

  private async ready(): Promise<void> {
    if (this.closed) throw new StoreClosedError();
    await this.init();
  }

  private async query<Row extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<Row>> {
    await this.ready();
    try {
      return await this.pool.query<Row>(text, values);
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  /**
   * Runs `work` in a transaction on one connection. A deadlock or serialization failure (two
   * transactions touching the same rows in another order) is retried from the start.
   */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw unavailableOr(error);
      }
      // A connection that drops between this transaction's statements reports it here, not as an
      // uncaught error; the statement under way fails and the connection is thrown away.
      let broken: unknown = null;
      const onError = (error: unknown) => {
        broken = error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        const failure = unavailableOr(error);
        if (failure instanceof StoreUnavailableError) broken ??= error;
        else await client.query('ROLLBACK').catch(() => {});
        const code = (error as { code?: string }).code;
        if (attempt < 5 && (code === '40P01' || code === '40001')) continue;
        throw failure;
      } finally {
        client.off('error', onError);
        client.release(broken ? (broken as Error) : undefined);
      }
    }
  }
}
