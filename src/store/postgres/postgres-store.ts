import type pg from 'pg';
import { type Job, StoreClosedError } from '../../core/index.ts';
import { SharedCall } from '../../core/shared-call.ts';
import { pgDriver } from '../drivers.ts';
import { Listeners, type WakeTarget } from '../listeners.ts';
import { RoleDelegatingStore } from '../role-delegation.ts';
import type { JobRow } from '../rows.ts';
import type {
  AddedJob,
  ClaimRequest,
  FinishAndClaimResult,
  HeldLease,
  JobOutcome,
  NewJob,
  OwnedJobs,
  RecoverStalledRequest,
  StalledJob,
  Store,
} from '../store.ts';
import type { PgContext, Queryable } from './context.ts';
import { unavailableOr } from './errors.ts';
import { PgHandoff } from './handoff.ts';
import { type InsertTarget, insertJobs } from './insert.ts';
import {
  ADD_FLUSH,
  COMMIT_WITHOUT_FLUSH,
  claimCtes,
  claimedJobs,
  handingInsertSql,
  INSUFFICIENT_PRIVILEGE,
  JOB_COLUMNS,
  JOINS_BY_INDEX,
  nextDue,
  offerCtes,
  outcomeBatch,
  outcomesCte,
} from './job-sql.ts';
import { PgLeases } from './leases.ts';
import { PgLocks } from './locks.ts';
import { PgMaintenanceVacuum } from './maintenance-vacuum.ts';
import { PgJobManagement } from './management.ts';
import { migratePostgres } from './migrations.ts';
import { checkOptions } from './options.ts';
import { applyOutcomes } from './outcomes.ts';
import { PgSchedules } from './schedules.ts';
import { inTransaction } from './transaction.ts';
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
  /** The schema, quoted for statements and bare for statement names (see outcomes.ts). */
  private readonly schemaNames: { q: string; name: string };
  /** Lease renewal, release and stall recovery (leases.ts). */
  private readonly leases: PgLeases;
  /** The NOTIFY channel of this schema: each notification's payload names a queue or a channel. */
  private readonly channel: string;
  private readonly listeners: Listeners;
  private readonly wake: PgWakeListener;
  /** The add statement that hands jobs (see handingInsertSql), built once; null with handoff off. */
  private readonly handingInsert: string | null;
  /** What `insertJobs` (insert.ts) adds with: this schema and its handing statement. */
  private readonly inserts: InsertTarget;
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
      notifyAll: (client) => this.notifyAll(client),
      wakeLocal: (target) => this.wakeLocal(target),
    };
    this.leases = new PgLeases(context);
    this.roles = {
      management: new PgJobManagement(context),
      schedules: new PgSchedules(context, (client, jobs) => insertJobs(this.inserts, client, jobs)),
      locks: new PgLocks(context),
    };
    this.schemaNames = { q: this.q, name: this.schema };
    this.handingInsert = options.handoff === false ? null : handingInsertSql(this.q);
    this.inserts = {
      q: this.q,
      schema: this.schema,
      handingInsert: this.handingInsert,
      handingValues: (batch, now) => this.handingValues(batch, now),
    };
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
    const added = await insertJobs(this.inserts, this.pool, jobs, { notify: true, handed, woken })
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
    const applied = await applyOutcomes(this.pool, this.schemaNames, outcomes).catch((error) => {
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
        applied: await applyOutcomes(client, this.schemaNames, outcomes),
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

  renewLeases(owner: string, leases: readonly HeldLease[], leaseExpiresAt: number): Promise<string[]> {
    return this.leases.renewLeases(owner, leases, leaseExpiresAt);
  }

  releaseJobs(owner: string, ids: readonly string[], now: number): Promise<number> {
    return this.leases.releaseJobs(owner, ids, now);
  }

  releaseOrphans(request: OwnedJobs): Promise<HeldLease[]> {
    return this.leases.releaseOrphans(request);
  }

  recoverStalled(request: RecoverStalledRequest): Promise<StalledJob[]> {
    return this.leases.recoverStalled(request);
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

  /** See `inTransaction`, on the pool once the store is open. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    return inTransaction(this.pool, work);
  }
}
