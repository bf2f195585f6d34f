import type pg from 'pg';
import {
  InvalidOptionError,
  type Job,
  type JobState,
  LIVE_STATES,
  StoreClosedError,
  StoreUnavailableError,
} from '../../core/index.ts';
import { SharedCall } from '../../core/shared-call.ts';
import { pgDriver } from '../drivers.ts';
import { backoffJson, claimOrder } from '../encoding.ts';
import type { FindJobsRequest, FoundJobs, JobFilter, MatchCount, SqlDialect } from '../job-search.ts';
import { Listeners, type WakeTarget } from '../listeners.ts';
import {
  type JobRow,
  type LockRow,
  lockFromRow,
  rowToJob,
  type ScheduleRow,
  scheduleFromRow,
} from '../rows.ts';
import { countMatchingWithSql, findJobsWithSql, type SqlRead } from '../sql-search.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  CANCELS_CHANNEL,
  type ClaimRequest,
  emptyCounts,
  type FinishAndClaimResult,
  type FireScheduleRequest,
  type HeldLease,
  type JobOutcome,
  type ListJobsRequest,
  type LockOwner,
  type LockRecord,
  type NewJob,
  type OwnedJobs,
  type RecoverStalledRequest,
  SCHEDULES_CHANNEL,
  type ScheduleRecord,
  type ScheduleSync,
  STALLED_ERROR_JSON,
  type StalledJob,
  type Store,
  type TransitionRequest,
  type TransitionResult,
} from '../store.ts';
import { PgHandoff } from './handoff.ts';
import { PgMaintenanceVacuum } from './maintenance-vacuum.ts';
import { migratePostgres } from './migrations.ts';
import {
  CLEAR_COMPLETED,
  CLEAR_LEASE,
  COMPLETED_RECORD,
  isRowId,
  releaseOrphansSql,
  runRecord,
} from './sql.ts';
import { HANDOFF_CHANNEL_PREFIX, HANDOFF_LOCK_CLASS, PgWakeListener } from './wake-listener.ts';
import { PgWakeSender, WAKE_SQL } from './wake-sender.ts';

/** ASCII letters folded by translate(), as the filter's text match is defined (lower() would fold more). */
const PG_DIALECT: SqlDialect = {
  param: (n) => `$${n}`,
  lower: (column) => `translate(${column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`,
  contains: (haystack, needle) => `strpos(${haystack}, ${needle}) > 0`,
};

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

/** Jobs removed per statement when pruning: short transactions, so workers are not held up. */
const PRUNE_CHUNK = 5000;
// Up to 55 characters: the NOTIFY channel is `sundial_<schema>`, and channel names stop at 63.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,54}$/;
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

type Queryable = pg.Pool | pg.PoolClient;

/**
 * The PostgreSQL engine. Claims take rows with `FOR UPDATE SKIP LOCKED`, so claimers never wait on
 * each other; partial indexes cover only what is claimable; completions go in one statement per
 * batch. Wake-ups travel by LISTEN/NOTIFY, sent inside the transaction that makes work claimable
 * (delivered at its commit); workers poll only as a backstop.
 */
export class PostgresStore implements Store {
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
    this.handingInsert = options.handoff === false ? null : this.handingInsertSql();
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
          text: `WITH ${this.outcomesCte('$7', 'jsonb')}, ${this.claimCtes()}${offer ? `, ${this.offerCtes('$8', '$9', '$10')}` : ''}
                 SELECT ${JOB_COLUMNS.map((column) => `c.${column}`).join(', ')},
                   CASE WHEN c.n IS NULL OR c.n = 1 THEN head.applied END AS applied, head.woken, head.next_run_at
                 FROM (SELECT (SELECT array_agg(id) FROM done) AS applied, (SELECT count(*) FROM woken) AS woken,
                   ${this.nextDue()}) AS head
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

  async getJob(id: string): Promise<Job | null> {
    if (!isRowId(id)) return null;
    const { rows } = await this.query<JobRow>(`SELECT * FROM ${this.q}.jobs WHERE id = $1`, [id]);
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async listJobs(request: ListJobsRequest): Promise<Job[]> {
    const order = request.order === 'desc' ? 'DESC' : 'ASC';
    const { rows } = await this.query<JobRow>(
      `SELECT * FROM ${this.q}.jobs WHERE queue = $1 AND ($2::text IS NULL OR state = $2)
       ORDER BY id ${order} LIMIT $3 OFFSET $4`,
      [request.queue, request.state ?? null, request.limit ?? 50, request.offset ?? 0],
    );
    return rows.map(rowToJob);
  }

  async countJobs(queue: string): Promise<Record<JobState, number>> {
    const counts = emptyCounts();
    const { rows } = await this.query<{ state: JobState; n: number }>(
      `SELECT state, count(*)::int AS n FROM ${this.q}.jobs WHERE queue = $1 GROUP BY state`,
      [queue],
    );
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  async latestRuns(): Promise<Map<string, Job>> {
    const { rows } = await this.query<JobRow & { schedule: string }>(
      `SELECT DISTINCT ON (origin ->> 'schedule') origin ->> 'schedule' AS schedule, *
       FROM ${this.q}.jobs WHERE origin IS NOT NULL ORDER BY origin ->> 'schedule', id DESC`,
    );
    return new Map(rows.map((row) => [row.schedule, rowToJob(row)]));
  }

  async retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const result = await this.transition(id, request, async (client, row) => {
      if (row.dedupe_key !== null && !(LIVE_STATES as readonly string[]).includes(row.state)) {
        const holder = await this.dedupeHolder(client, row.queue, row.dedupe_key);
        if (holder) return { ok: false, reason: 'duplicate', holder };
      }
      // A job added with the key after that check, not committed yet, makes the update wait for it
      // and then fail on the unique index: then it is that job's key, as if the check had seen it.
      // (If that job has finished by the time we look, the key is free again: update again.)
      for (let attempt = 1; ; attempt++) {
        await client.query('SAVEPOINT retry_job');
        try {
          await client.query(
            `UPDATE ${this.q}.jobs SET state = 'waiting', run_at = $1, failures = 0, stalls = 0,
               dead_letter = NULL, finished_at = NULL, ${CLEAR_LEASE}, ${CLEAR_COMPLETED},
               history = CASE WHEN completed_worker IS NULL THEN history ELSE history || ${COMPLETED_RECORD} END
             WHERE id = $2`,
            [request.now, id],
          );
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== UNIQUE_VIOLATION || attempt === 3) throw error;
          await client.query('ROLLBACK TO SAVEPOINT retry_job');
          const holder = await this.dedupeHolder(client, row.queue, row.dedupe_key!);
          if (holder) return { ok: false, reason: 'duplicate', holder };
        }
      }
      await this.notify(client, [row.queue]);
      return null;
    });
    if (result.ok) this.wakeLocal([result.job.queue]);
    return result;
  }

  async cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    const result = await this.transition(id, request, async (client, row) => {
      await this.cancelRow(client, id, request.now);
      if (row.state === 'active') await this.notify(client, [CANCELS_CHANNEL]);
      return null;
    });
    if (result.ok) this.wakeLocal([CANCELS_CHANNEL]);
    return result;
  }

  async removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    return this.transition(
      id,
      request,
      async (client) => {
        await client.query(`DELETE FROM ${this.q}.jobs WHERE id = $1`, [id]);
        return null;
      },
      { returnsRemoved: true },
    );
  }

  async pruneJobs(request: {
    queue: string;
    states: readonly JobState[];
    finishedBefore: number;
  }): Promise<number> {
    if (request.states.length === 0) return 0;
    // In id order, each chunk starting after the last: the rows an earlier chunk deleted stay in the
    // table as dead rows until vacuum, and starting over each time would step over them again.
    let total = 0;
    let after = 0;
    for (;;) {
      const { rows } = await this.query<{ n: number; last: number | null }>(
        `WITH gone AS (
           DELETE FROM ${this.q}.jobs WHERE id IN (
             SELECT id FROM ${this.q}.jobs
             WHERE id > $5 AND queue = $1 AND state = ANY($2::text[]) AND finished_at < $3
             ORDER BY id LIMIT $4)
           RETURNING id)
         SELECT count(*)::int AS n, max(id) AS last FROM gone`,
        [request.queue, request.states, request.finishedBefore, PRUNE_CHUNK, after],
      );
      const { n, last } = rows[0]!;
      total += n;
      if (n < PRUNE_CHUNK || last === null) return total;
      after = last;
    }
  }

  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(
        `INSERT INTO ${this.q}.queues (name, paused) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
        [queue, paused],
      );
      if (!paused) await this.notify(client, [queue]);
    });
    if (!paused) this.wakeLocal([queue]);
  }

  async isQueuePaused(queue: string): Promise<boolean> {
    const { rows } = await this.query<{ paused: boolean }>(
      `SELECT paused FROM ${this.q}.queues WHERE name = $1`,
      [queue],
    );
    return rows[0]?.paused === true;
  }

  async listQueues(): Promise<string[]> {
    const { rows } = await this.query<{ name: string }>(
      `SELECT name FROM ${this.q}.queues UNION SELECT DISTINCT queue FROM ${this.q}.jobs ORDER BY 1`,
    );
    return rows.map((row) => row.name);
  }

  findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    return findJobsWithSql(this.search, `${this.q}.jobs`, PG_DIALECT, request);
  }

  countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    return countMatchingWithSql(this.search, `${this.q}.jobs`, PG_DIALECT, filter, cap);
  }

  async forgetQueue(queue: string): Promise<boolean> {
    const { rows } = await this.query<{ has_jobs: boolean }>(
      `WITH found AS (SELECT EXISTS (SELECT 1 FROM ${this.q}.jobs WHERE queue = $1) AS has_jobs),
         gone AS (DELETE FROM ${this.q}.queues WHERE name = $1 AND NOT (SELECT has_jobs FROM found))
       SELECT has_jobs FROM found`,
      [queue],
    );
    return rows[0]?.has_jobs === false;
  }

  private readonly search: SqlRead = async <Row>(sql: string, params: unknown[]) =>
    (await this.query(sql, params)).rows as Row[];

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    if (entries.length === 0) return;
    const changed = await this.transaction(async (client) => {
      // A changed spec takes its new next run; an unchanged one keeps its own (missed runs included).
      const { rowCount } = await client.query(
        `INSERT INTO ${this.q}.schedules (id, spec_hash, next_run_at, updated_at)
         SELECT id, spec_hash, next_run_at, $4 FROM unnest($1::text[], $2::text[], $3::bigint[])
           AS entry(id, spec_hash, next_run_at)
         ON CONFLICT (id) DO UPDATE SET spec_hash = excluded.spec_hash, next_run_at = excluded.next_run_at,
           updated_at = excluded.updated_at
         WHERE schedules.spec_hash <> excluded.spec_hash`,
        [
          entries.map((entry) => entry.id),
          entries.map((entry) => entry.specHash),
          entries.map((entry) => entry.nextRunAt),
          now,
        ],
      );
      if ((rowCount ?? 0) > 0) await this.notify(client, [SCHEDULES_CHANNEL]);
      return rowCount ?? 0;
    });
    if (changed > 0) this.wakeLocal([SCHEDULES_CHANNEL]);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    const result = await this.transaction(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE ${this.q}.schedules SET next_run_at = $1, last_run_at = $2, updated_at = $2
         WHERE id = $3 AND next_run_at = $4 AND NOT paused`,
        [request.nextRunAt, request.firedAt, request.id, request.expectedNextRunAt],
      );
      if (rowCount !== 1) return { fired: false, added: [] as AddedJob[] };
      const added = await this.insertJobs(client, request.jobs);
      if (request.whenActive) await this.resolveActiveHolders(client, request, added);
      const woken = new Set(request.jobs.map((job) => job.queue));
      if (added.some((entry) => entry.replaced !== undefined)) woken.add(CANCELS_CHANNEL);
      if (added.length > 0) await this.notify(client, woken);
      return { fired: true, added };
    });
    if (result.added.length > 0) {
      const woken = new Set(request.jobs.map((job) => job.queue));
      if (result.added.some((entry) => entry.replaced !== undefined)) woken.add(CANCELS_CHANNEL);
      this.wakeLocal(woken);
    }
    return result;
  }

  async nextScheduleRunAt(): Promise<number | null> {
    const { rows } = await this.query<{ t: number | null }>(
      `SELECT min(next_run_at) AS t FROM ${this.q}.schedules WHERE NOT paused AND next_run_at IS NOT NULL`,
    );
    return rows[0]?.t ?? null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await this.query<ScheduleRow>(`SELECT * FROM ${this.q}.schedules ORDER BY id`);
    return rows.map(scheduleFromRow);
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    const changed = await this.transaction(async (client) => {
      const { rowCount } =
        !paused && resumeAt !== undefined
          ? await client.query(
              `UPDATE ${this.q}.schedules SET paused = false, note = $1, updated_at = $2, next_run_at = $3 WHERE id = $4`,
              [note, now, resumeAt, id],
            )
          : await client.query(
              `UPDATE ${this.q}.schedules SET paused = $1, note = $2, updated_at = $3 WHERE id = $4`,
              [paused, note, now, id],
            );
      if (rowCount === 1) await this.notify(client, [SCHEDULES_CHANNEL]);
      return rowCount === 1;
    });
    if (changed) this.wakeLocal([SCHEDULES_CHANNEL]);
    return changed;
  }

  async acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    // Free, or held past its TTL without a heartbeat: take it with the next fencing token.
    const { rows } = await this.query<LockRow>(
      `INSERT INTO ${this.q}.locks AS l (name, owner, token, acquired_at, heartbeat_at, ttl_ms)
       VALUES ($1, $2, 1, $3, $3, $4)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = l.token + 1,
         acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, ttl_ms = excluded.ttl_ms
       WHERE l.owner IS NULL OR l.heartbeat_at + l.ttl_ms < excluded.acquired_at
       RETURNING *`,
      [request.name, JSON.stringify(request.owner), request.now, request.ttlMs],
    );
    return rows[0] ? lockFromRow(rows[0]) : null;
  }

  async renewLock(name: string, token: number, now: number): Promise<boolean> {
    const { rowCount } = await this.query(
      `UPDATE ${this.q}.locks SET heartbeat_at = $1 WHERE name = $2 AND token = $3 AND owner IS NOT NULL`,
      [now, name, token],
    );
    return rowCount === 1;
  }

  async releaseLock(name: string, token?: number): Promise<boolean> {
    const { rowCount } = await this.query(
      `UPDATE ${this.q}.locks SET owner = NULL, acquired_at = NULL, heartbeat_at = NULL, ttl_ms = NULL
       WHERE name = $1 AND owner IS NOT NULL AND ($2::bigint IS NULL OR token = $2)`,
      [name, token ?? null],
    );
    return rowCount === 1;
  }

  async listLocks(): Promise<LockRecord[]> {
    const { rows } = await this.query<LockRow>(
      `SELECT * FROM ${this.q}.locks WHERE owner IS NOT NULL ORDER BY name`,
    );
    return rows.map(lockFromRow);
  }

  async getFlag(name: string): Promise<string | null> {
    const { rows } = await this.query<{ value: string }>(
      `SELECT value FROM ${this.q}.flags WHERE name = $1`,
      [name],
    );
    return rows[0]?.value ?? null;
  }

  async setFlag(name: string, value: string | null): Promise<void> {
    await this.transaction(async (client) => {
      if (value === null) await client.query(`DELETE FROM ${this.q}.flags WHERE name = $1`, [name]);
      else
        await client.query(
          `INSERT INTO ${this.q}.flags (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
          [name, value],
        );
      await this.notify(client, [SCHEDULES_CHANNEL]);
    });
    this.wakeLocal([SCHEDULES_CHANNEL]);
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
      const holder = await this.dedupeHolder(client, job.queue, job.dedupeKey!);
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
  private handingInsertSql(): string {
    return `WITH batch AS (SELECT * FROM ${BATCH_ROWS}),
      chosen AS (
        SELECT best.* FROM (SELECT DISTINCT q FROM batch WHERE s = 'waiting') AS ready
        CROSS JOIN LATERAL (
          SELECT o.queue, o.owner, o.free, o.lease_ms, o.listener FROM ${this.q}.offers AS o
          WHERE o.queue = ready.q AND o.free > 0 AND o.offer_until >= $2
            AND NOT pg_try_advisory_xact_lock_shared(${HANDOFF_LOCK_CLASS}, o.listener)
            AND NOT EXISTS (SELECT 1 FROM ${this.q}.jobs AS j WHERE j.queue = ready.q AND j.state = 'waiting')
            AND NOT EXISTS (SELECT 1 FROM ${this.q}.jobs AS j
              WHERE j.queue = ready.q AND j.state IN ('delayed', 'failed') AND j.run_at <= $2)
            AND NOT EXISTS (SELECT 1 FROM ${this.q}.queues AS paused WHERE paused.name = ready.q AND paused.paused)
          ORDER BY o.free DESC LIMIT 1
          FOR UPDATE OF o SKIP LOCKED) AS best),
      handing AS (
        SELECT ready.i, chosen.owner, chosen.lease_ms FROM (
          SELECT i, q, row_number() OVER (PARTITION BY q ORDER BY i) AS n FROM batch
          WHERE s = 'waiting' AND EXISTS (SELECT 1 FROM chosen)
            AND octet_length(json_build_array(q, n, p, b, d, o)::text) <= ${HANDOFF_MAX_TEXT}) AS ready
        JOIN chosen ON chosen.queue = ready.q WHERE ready.n <= chosen.free),
      inserted AS (
        INSERT INTO ${this.q}.jobs (${INSERT_COLUMNS}, attempt, lease_owner, lease_expires_at, started_at)
        SELECT q, n, p, CASE WHEN h.owner IS NULL THEN s ELSE 'active' END, pr, r, m, b, t, d, ms, o::jsonb, c,
          CASE WHEN h.owner IS NULL THEN 0 ELSE 1 END, h.owner, c + h.lease_ms,
          CASE WHEN h.owner IS NULL THEN NULL ELSE c END
        FROM batch LEFT JOIN handing AS h ON h.i = batch.i
        ORDER BY batch.i
        ${ON_KEY_HELD}
        RETURNING ${JOB_COLUMNS.join(', ')}),
      used AS (
        UPDATE ${this.q}.offers AS o SET free = o.free - h.n
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

  private async dedupeHolder(client: Queryable, queue: string, key: string): Promise<string | null> {
    const { rows } = await client.query<{ id: number }>(
      `SELECT id FROM ${this.q}.jobs WHERE queue = $1 AND dedupe_key = $2
         AND state IN ('waiting', 'delayed', 'failed', 'active') LIMIT 1`,
      [queue, key],
    );
    return rows[0] ? String(rows[0].id) : null;
  }

  /** `whenActive` of `fireSchedule`, inside its transaction: replaces entries of `added` in place. */
  private async resolveActiveHolders(
    client: pg.PoolClient,
    request: FireScheduleRequest,
    added: AddedJob[],
  ): Promise<void> {
    for (const [i, job] of request.jobs.entries()) {
      const entry = added[i]!;
      if (!entry.duplicate) continue;
      const { rows } = await client.query<{ state: string }>(
        `SELECT state FROM ${this.q}.jobs WHERE id = $1 FOR UPDATE`,
        [entry.id],
      );
      if (rows[0]?.state !== 'active') continue;
      if (request.whenActive === 'replace') {
        await this.cancelRow(client, entry.id, request.firedAt);
        added[i] = { ...(await this.insertJobs(client, [job]))[0]!, replaced: entry.id };
      } else {
        const buffered = { ...job, dedupeKey: `${job.dedupeKey}${BUFFERED_KEY_SUFFIX}` };
        added[i] = (await this.insertJobs(client, [buffered]))[0]!;
      }
    }
  }

  /**
   * A running job's run ends here too: its history says so (its worker's outcome will not apply).
   * (A completed job, which only a caller of the store itself could cancel, keeps its record.)
   */
  private async cancelRow(client: Queryable, id: string, now: number): Promise<void> {
    await client.query(
      `UPDATE ${this.q}.jobs SET state = 'cancelled', finished_at = $1, ${CLEAR_LEASE}, ${CLEAR_COMPLETED},
         history = CASE WHEN state = 'active' THEN history || ${runRecord('cancelled', '$1::bigint')}
           WHEN completed_worker IS NOT NULL THEN history || ${COMPLETED_RECORD}
           ELSE history END
       WHERE id = $2`,
      [now, id],
    );
  }

  /**
   * Makes due delayed and failed jobs waiting and claims, in one statement. Claimers lock their
   * candidates with SKIP LOCKED: rows another claimer is taking are passed over, never waited for.
   * The candidates are the first `limit` waiting jobs in claim order plus every due one; the best
   * `limit` of them are claimed and the other due ones become waiting, so no row changes twice.
   */
  private claimCtes(): string {
    return `waiting AS (
        SELECT id, priority, run_at FROM ${this.q}.jobs
        WHERE queue = $1 AND state = 'waiting'
        ORDER BY priority DESC, run_at, id LIMIT $2
        FOR UPDATE SKIP LOCKED),
      due AS (
        SELECT id, priority, run_at FROM ${this.q}.jobs
        WHERE queue = $1 AND state IN ('delayed', 'failed') AND run_at <= $5
        FOR UPDATE SKIP LOCKED),
      next AS (
        SELECT id FROM (SELECT * FROM waiting UNION ALL SELECT * FROM due) AS candidate
        WHERE NOT EXISTS (SELECT 1 FROM ${this.q}.queues WHERE name = $1 AND paused)
        ORDER BY priority DESC, run_at, id LIMIT $2),
      promoted AS (
        UPDATE ${this.q}.jobs SET state = 'waiting'
        WHERE id IN (SELECT id FROM due) AND id NOT IN (SELECT id FROM next)
        RETURNING id),
      -- Jobs this statement made waiting, or held locked without claiming, were invisible to other
      -- claimers meanwhile: tell them, or they sleep until their poll.
      woken AS (
        SELECT pg_notify($6, $1) WHERE EXISTS (SELECT 1 FROM promoted)
          OR EXISTS (SELECT 1 FROM waiting WHERE id NOT IN (SELECT id FROM next))),
      claimed AS (
        UPDATE ${this.q}.jobs AS j
        SET state = 'active', attempt = j.attempt + 1, lease_owner = $3, lease_expires_at = $4, started_at = $5
        FROM next WHERE j.id = next.id
        RETURNING ${JOB_COLUMNS.map((column) => `j.${column}`).join(', ')})`;
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
      text: `WITH ${this.claimCtes()}${offer ? `, ${this.offerCtes('$7', '$8', '$9')}` : ''}
             SELECT ${JOB_COLUMNS.map((column) => `c.${column}`).join(', ')}, head.*
             FROM (SELECT (SELECT count(*) FROM woken) AS woken, ${this.nextDue()}${relax}) AS head
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
   * After `claimCtes`, for a claim that offers: the slots it leaves free become the owner's offer in
   * the queue (`until`, `listener` and `stands` are its parameters), or, when it took its whole
   * limit, the owner's offer goes. An offer that `stands` is not touched, not even locked, by a
   * claim that took nothing. It never waits for its offer row: an add that holds it (handing a job
   * under it) may itself wait for a job this claim or its outcomes changed (a dedupe key), and
   * waiting both ways is a deadlock. A row locked by an add is left as the add leaves it (one slot fewer);
   * the next claim that writes the offer sets it right.
   */
  private offerCtes(until: string, listener: string, stands: string): string {
    const tookAll = '(SELECT count(*) FROM claimed) >= $2';
    // A standing offer that is gone, or names a listener connection we no longer have (it dropped
    // and came back), is written anew all the same.
    const rewritesOffer = `(NOT ${stands}::boolean OR EXISTS (SELECT 1 FROM claimed)
      OR NOT EXISTS (SELECT 1 FROM ${this.q}.offers WHERE queue = $1 AND owner = $3 AND listener = ${listener}))`;
    return `mine AS (
        SELECT queue, owner FROM ${this.q}.offers WHERE queue = $1 AND owner = $3 AND ${rewritesOffer}
        FOR UPDATE SKIP LOCKED),
      offered AS (
        INSERT INTO ${this.q}.offers (queue, owner, free, offer_until, lease_ms, listener)
        SELECT $1, $3, $2 - (SELECT count(*) FROM claimed), ${until}, $4 - $5, ${listener}
        WHERE NOT ${tookAll} AND ${rewritesOffer}
        ON CONFLICT (queue, owner) DO NOTHING),
      reoffered AS (
        UPDATE ${this.q}.offers AS o SET free = $2 - (SELECT count(*) FROM claimed), offer_until = ${until},
          lease_ms = $4 - $5, listener = ${listener}
        FROM mine WHERE o.queue = mine.queue AND o.owner = mine.owner AND NOT ${tookAll}),
      unoffered AS (
        DELETE FROM ${this.q}.offers AS o USING mine
        WHERE o.queue = mine.queue AND o.owner = mine.owner AND ${tookAll})`;
  }

  /**
   * When the queue's next delayed or failed job is due, for the idle worker's timer (see
   * `FinishAndClaimResult.nextRunAt`), read by the claim itself. The statement's snapshot still sees
   * the due jobs it promoted or claimed as they were, so those are left out by id.
   */
  private nextDue(): string {
    return `(SELECT min(run_at) FROM ${this.q}.jobs
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
  private outcomesCte(param: string, reader: OutcomeBatch['reader']): string {
    return `done AS (
      UPDATE ${this.q}.jobs AS j SET
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
      text: `WITH ${this.outcomesCte('$1', batch.reader)} SELECT id FROM done`,
      values: [batch.text],
    });
    const applied = new Set(rows.map((row) => String(row.id)));
    return outcomes.map((outcome) => applied.has(outcome.id));
  }

  /**
   * Reads the job (locking its row), checks its state against `from`, applies `change` and reads it
   * back, all in one transaction. `change` may refuse by returning a failed result.
   */
  private transition(
    id: string,
    { queue, from }: TransitionRequest,
    change: (client: pg.PoolClient, row: JobRow) => Promise<TransitionResult | null>,
    { returnsRemoved = false } = {},
  ): Promise<TransitionResult> {
    return this.transaction(async (client): Promise<TransitionResult> => {
      if (!isRowId(id)) return { ok: false, reason: 'not_found' };
      const { rows } = await client.query<JobRow>(`SELECT * FROM ${this.q}.jobs WHERE id = $1 FOR UPDATE`, [
        id,
      ]);
      const row = rows[0];
      if (!row || row.queue !== queue) return { ok: false, reason: 'not_found' };
      const state = row.state as JobState;
      if (!from.includes(state)) return { ok: false, reason: 'state', state };
      const refused = await change(client, row);
      if (refused) return refused;
      if (returnsRemoved) return { ok: true, job: rowToJob(row) };
      const after = await client.query<JobRow>(`SELECT * FROM ${this.q}.jobs WHERE id = $1`, [id]);
      return { ok: true, job: rowToJob(after.rows[0]!) };
    });
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

/** The columns an add fills. */
const INSERT_COLUMNS = `queue, name, payload, state, priority, run_at, max_attempts, backoff, timeout_ms,
  dedupe_key, max_stalls, origin, created_at`;
/** An add's batch, the JSON parameter $1, as rows (`i`: the batch order). */
const BATCH_ROWS = `json_to_recordset($1::json) AS batch(q text, n text, p text, s text, pr int, r bigint, m int,
  b text, t bigint, d text, ms int, o text, c bigint, i int)`;
/** A job whose dedupe key a live job of its queue holds is not inserted. */
const ON_KEY_HELD = `ON CONFLICT (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'delayed', 'failed', 'active') DO NOTHING`;
/**
 * The most its texts (queue, name, payload, backoff, dedupe key, origin) may take, JSON-escaped, for a
 * job to be handed: its notification must stay under PostgreSQL's 8000 bytes with the rest of it.
 */
const HANDOFF_MAX_TEXT = 6000;
/**
 * Adds of more jobs at once are not handed: handoff is for a trickle reaching idle workers, and the
 * handing statement slows a bulk add (it reads the batch twice and sorts it; W2 here went from 83 k
 * to 76 k jobs/s with it).
 */
const HANDOFF_MAX_BATCH = 100;

/** PostgreSQL's SQLSTATE for a role without the privilege a statement needs. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Makes the commit of the statement's implicit transaction return before the WAL flush (and send
 * its notifications at once). Used by a claim on its own (see `claimRows`) and by an add that hands
 * a job (see `handingInsertSql`), which `addJobs` follows with `ADD_FLUSH`.
 */
const COMMIT_WITHOUT_FLUSH = `set_config('synchronous_commit', 'off', true)`;

/**
 * A transaction that writes a record to the WAL (a logical decoding message, which is all it does:
 * nothing reads it unless a logical decoding consumer asks for Sundial's prefix) under a transaction
 * id, so with the session's own `synchronous_commit` (on by default) its commit waits for the WAL to
 * be flushed up to it. That flush covers every commit before it, the add's among them, so an add,
 * which resolves only after this, is as durable as a synchronous commit makes it. (A transaction
 * that only takes an id, `txid_current()`, writes no WAL of its own, and PostgreSQL commits such a
 * one without waiting.)
 */
const ADD_FLUSH = {
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
const JOINS_BY_INDEX = 'SET enable_hashjoin = off; SET enable_mergejoin = off';
/** PostgreSQL's SQLSTATE for a unique index refusing a row. */
const UNIQUE_VIOLATION = '23505';
/**
 * The columns a claim returns, named: a prepared statement with `*` fails on every pooled
 * connection once a newer version's migration adds a column ("cached plan must not change result
 * type"), which would stop older workers in a rolling upgrade.
 */
const JOB_COLUMNS = [
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
const HANDED_JOB_COLUMNS = JOB_COLUMNS.map((column) =>
  column === 'history' || column === 'origin'
    ? `inserted.${column}::text AS ${column}`
    : `inserted.${column}`,
).join(', ');
/** Not a lease the asking worker holds: another owner's, or one of its own it does not know of. */
const NOT_EXCEPTED = (owner: string, held: string) =>
  `(${owner}::text IS NULL OR lease_owner <> ${owner} OR (${held}::bigint[] IS NOT NULL AND NOT (id = ANY(${held}))))`;

/**
 * Refusals the server reports after rolling the statement back, so it did nothing: too many
 * connections (53300), a statement or lock timeout (57014, 55P03), and a deadlock or serialization
 * failure outside a retried transaction.
 */
const REFUSED = ['53300', '57014', '55P03', '40P01', '40001'];

/**
 * Trouble that says nothing about the request, so callers hear `StoreUnavailableError` and try
 * again later: the refusals above, and the connection (refused, reset, the server shutting down:
 * SQLSTATE classes 08 and 57P, names that do not resolve), when the request may or may not have
 * been applied.
 */
const PASSING_TROUBLE = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  ...REFUSED,
];

function unavailableOr(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? '';
  const connectionTrouble =
    (typeof code === 'string' &&
      (code.startsWith('08') || code.startsWith('57P') || PASSING_TROUBLE.includes(code))) ||
    /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
      message,
    );
  if (!connectionTrouble) return error;
  return new StoreUnavailableError(error, { refused: typeof code === 'string' && REFUSED.includes(code) });
}
const OUTCOME_STATE: Record<JobOutcome['kind'], JobState> = {
  completed: 'completed',
  retry: 'failed',
  dead: 'dead',
};

/** A queue and dedupe key as one map key. */
function dedupeSlot(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}

/** Outcomes as the one JSON text `outcomesCte` reads, and the type it is read as. */
interface OutcomeBatch {
  text: string;
  reader: 'jsonb' | 'json';
}

/**
 * A batch whose text is up to this many UTF-16 units (at most three UTF-8 bytes each) is read as
 * `jsonb`, well within its 256 MB limit on a string or on all of an array's elements together.
 */
const JSONB_BATCH_CHARS = 64 * 1024 * 1024;

/**
 * The outcomes as one JSON array: one text for the driver to send as it is (as ten arrays, each
 * string had to be escaped into an array literal first, a twentieth of a worker's time when
 * draining). The texts stored as text (result, error, dead letter) travel as JSON strings; the
 * attempt record as the one-element array appended to the history, or, for a plain completion
 * (see `isPlainCompletion`), only its start. Read as `jsonb`, which parses a record once for the
 * history (read as `json` and cast, a batch took twice as long); a batch too large for `jsonb` (a
 * text column takes up to 1 GB) is read as `json`.
 */
function outcomeBatch(outcomes: readonly JobOutcome[]): OutcomeBatch {
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
function isPlainCompletion(outcome: JobOutcome): boolean {
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

const COMPLETED_RECORD_KEYS = new Set(['attempt', 'outcome', 'worker', 'startedAt', 'finishedAt']);

/** RETURNING gives rows in no promised order; claims are handed out in claim order. */
function claimedJobs(rows: readonly JobRow[]): Job[] {
  return rows.map(rowToJob).sort(claimOrder);
}

const OPTION_KEYS = ['connectionString', 'schema', 'poolSize', 'onError', 'handoff', 'maintenanceVacuum'];

function checkOptions(options: PostgresStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('store', options, 'an object of PostgreSQL store options');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = `store.${key}`;
    switch (key) {
      case 'connectionString':
        if (typeof value !== 'string' || value === '')
          throw new InvalidOptionError(field, value, 'a postgres:// URL');
        break;
      case 'schema':
        if (typeof value !== 'string' || !SCHEMA_NAME.test(value))
          throw new InvalidOptionError(
            field,
            value,
            'a schema name of lowercase letters, digits and _ (up to 55)',
          );
        break;
      case 'poolSize':
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1000)
          throw new InvalidOptionError(field, value, 'a whole number from 1 to 1000');
        break;
      case 'onError':
        if (typeof value !== 'function') throw new InvalidOptionError(field, value, 'a function');
        break;
      case 'handoff':
        if (typeof value !== 'boolean') throw new InvalidOptionError(field, value, 'true or false');
        break;
      case 'maintenanceVacuum':
        if (
          typeof value !== 'boolean' &&
          !(Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 86_400_000)
        )
          throw new InvalidOptionError(
            field,
            value,
            'true, false, or ms between rounds from 100 to 86,400,000',
          );
        break;
      default:
        throw new InvalidOptionError(
          field,
          value,
          `not a PostgreSQL store option; known: ${OPTION_KEYS.join(', ')}`,
        );
    }
  }
}
