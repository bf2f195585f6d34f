import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type JobOutcome, PostgresStore } from '../../src/store/index.ts';
import { VACUUM_LOCK_CLASS } from '../../src/store/postgres/maintenance-vacuum.ts';
import { waitFor } from '../helpers.ts';
import { describeHandoffConformance } from './handoff-conformance.ts';
import { describeSearchConformance } from './search-conformance.ts';
import { engineUnderTest, POSTGRES_URL } from './servers.ts';
import { describeStoreConformance, harnessOf, newJob, T0 } from './store-conformance.ts';

const postgresUp = await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432);

if (postgresUp) {
  const makeHarness = async () => {
    // A schema of its own per test: tests never see each other's rows, and dropping it cleans up.
    const schema = `sundial_test_${randomBytes(6).toString('hex')}`;
    const stores: PostgresStore[] = [];
    const make = () => {
      const store = new PostgresStore({ connectionString: POSTGRES_URL, schema, poolSize: 4 });
      stores.push(store);
      return store;
    };
    return harnessOf(make, async () => {
      await Promise.all(stores.map((s) => s.close()));
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });
  };
  describeStoreConformance('postgres', makeHarness);
  describeHandoffConformance('postgres', makeHarness, { handsLongEscapedPayload: false });
  describeSearchConformance('postgres', makeHarness);
}

describe.skipIf(!postgresUp)('PostgreSQL engine specifics', () => {
  const schema = `sundial_test_${randomBytes(6).toString('hex')}`;
  const stores: PostgresStore[] = [];
  const make = () => {
    const store = new PostgresStore({
      connectionString: POSTGRES_URL,
      schema,
      poolSize: 2,
      onError: () => {},
    });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('listens again after its listening connection is killed: a job added afterwards still wakes a subscriber in another store', async () => {
    const worker = make();
    const producer = make();
    await Promise.all([worker.init(), producer.init()]);
    let wakes = 0;
    worker.subscribe('q', () => wakes++);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      // Every connection LISTENing on this schema's channel: the worker's and the producer's.
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1)`,
        [`LISTEN "sundial_${schema}";`],
      );
      expect(rows.length).toBe(2);
      await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [
        rows.map((r) => r.pid),
      ]);
    } finally {
      await admin.end();
    }
    // Back and listening, it wakes its listeners once for whatever it may have missed.
    await waitFor(() => wakes > 0, { message: 'the wake-up after listening again' });
    const before = wakes;
    await producer.addJobs([newJob()]);
    // The producer wakes its own process directly; only NOTIFY reaches the worker's store.
    await waitFor(() => wakes > before, { message: 'the NOTIFY for the new job' });
  });

  it('retrying a dead job whose key a job being added takes at that moment reports the duplicate (not a raw unique violation)', async () => {
    const store = make();
    await store.init();
    const [dead] = await store.addJobs([newJob({ queue: 'race', dedupeKey: 'k', maxAttempts: 1 })]);
    await store.claimJobs({ queue: 'race', owner: 'w', limit: 1, now: T0, leaseExpiresAt: T0 + 30_000 });
    const error = { name: 'Error', message: 'boom', category: 'error' as const };
    await store.finishJobs([
      {
        kind: 'dead',
        id: dead!.id,
        owner: 'w',
        attempt: 1,
        finishedAt: T0 + 1,
        record: { attempt: 1, outcome: 'failed', worker: 'w', startedAt: T0, finishedAt: T0 + 1 },
        error,
        deadLetter: { reason: 'attempts_exhausted', at: T0 + 1, failures: 1, stalls: 0, queue: 'race' },
      },
    ]);

    // Another client adds a job with the key and has not committed yet when the retry checks it.
    const adder = new pg.Client({ connectionString: POSTGRES_URL });
    await adder.connect();
    try {
      await adder.query('BEGIN');
      const { rows } = await adder.query<{ id: string }>(
        `INSERT INTO "${schema}".jobs (queue, name, payload, state, run_at, max_attempts, backoff, dedupe_key,
           max_stalls, created_at) VALUES ('race', 'work', '{}', 'waiting', $1, 1, '{"type":"none"}', 'k', 1, $1)
         RETURNING id`,
        [T0],
      );
      const retry = store.retryJob(dead!.id, { queue: 'race', from: ['dead'], now: T0 + 2 });
      // The retry's update now waits on the unique index for the adder's transaction.
      await waitFor(async () => {
        const { rows: waiting } = await adder.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`,
        );
        return waiting[0]!.n > 0;
      });
      await adder.query('COMMIT');
      expect(await retry).toEqual({ ok: false, reason: 'duplicate', holder: String(rows[0]!.id) });
      expect((await store.getJob(dead!.id))?.state).toBe('dead');
    } finally {
      await adder.end();
    }
  });

  it('hands nothing from a bulk add of more than 100 jobs (the plain insert, which wakes workers instead)', async () => {
    const store = make();
    await store.init();
    const handed: string[] = [];
    const stop = await store.handoff!.receive('bulk-owner', (jobs) =>
      handed.push(...jobs.map((job) => job.id)),
    );
    try {
      const now = T0;
      await store.claimJobs({
        queue: 'bulk',
        owner: 'bulk-owner',
        limit: 200,
        now,
        leaseExpiresAt: now + 30_000,
        offerUntil: now + 60_000,
      });
      let woken = 0;
      const unsubscribe = store.subscribe('bulk', () => woken++);
      await store.addJobs(Array.from({ length: 101 }, () => newJob({ queue: 'bulk' })));
      unsubscribe();
      expect((await store.countJobs('bulk')).waiting).toBe(101);
      expect(woken).toBeGreaterThanOrEqual(1);
      // A small add to the same queue is not handed either: 101 jobs wait before it.
      await store.addJobs([newJob({ queue: 'bulk' })]);
      expect((await store.countJobs('bulk')).waiting).toBe(102);
      expect(handed).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('an add of a key that a job being finished holds, racing its worker offering slots, never deadlocks', async () => {
    // The add holds the worker's offer while it waits on the finishing job's key; the worker's
    // statement, holding that job, must not wait for its offer in turn.
    const worker = make();
    const producer = make();
    await Promise.all([worker.init(), producer.init()]);
    const stop = await worker.handoff!.receive('racer', () => {});
    const failures: unknown[] = [];
    try {
      let now = T0;
      const offerFrom = (at: number) => ({
        queue: 'race-k',
        owner: 'racer',
        limit: 4,
        now: at,
        leaseExpiresAt: at + 30_000,
        offerUntil: at + 60_000,
      });
      for (let round = 0; round < 200; round++) {
        now += 10;
        await producer.addJobs([newJob({ queue: 'race-k', dedupeKey: 'k', createdAt: now })]);
        let [held] = await worker.claimJobs(offerFrom(now));
        held ??= (await worker.listJobs({ queue: 'race-k', state: 'active' }))[0];
        const outcome: JobOutcome = {
          kind: 'completed',
          id: held!.id,
          owner: 'racer',
          attempt: held!.attempt,
          finishedAt: now + 1,
          result: 'null',
          record: {
            attempt: held!.attempt,
            outcome: 'completed',
            worker: 'racer',
            startedAt: now,
            finishedAt: now + 1,
          },
        };
        await Promise.all([
          worker
            .finishAndClaim([outcome], offerFrom(now + 1))
            .catch((error: unknown) => failures.push(error)),
          producer
            .addJobs([newJob({ queue: 'race-k', dedupeKey: 'k', createdAt: now + 1 })])
            .catch((error: unknown) => failures.push(error)),
        ]);
        // Clean up for the next round: whatever is live is finished.
        for (const job of await worker.listJobs({ queue: 'race-k', state: 'active' })) {
          await worker.finishJobs([{ ...outcome, id: job.id, owner: job.leaseOwner!, attempt: job.attempt }]);
        }
        const left = await worker.claimJobs({ ...offerFrom(now + 2), limit: 100 });
        for (const job of left) await worker.finishJobs([{ ...outcome, id: job.id, attempt: job.attempt }]);
      }
    } finally {
      await stop();
    }
    expect(failures).toEqual([]);
  });

  it('refuses a lease owner on a job that is not active: finishing trusts the owner alone to tell an active job', async () => {
    const store = make();
    await store.init();
    const [job] = await store.addJobs([newJob({ queue: 'lease-check' })]);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      await expect(
        admin.query(`UPDATE "${schema}".jobs SET lease_owner = 'w' WHERE id = $1`, [job!.id]),
      ).rejects.toMatchObject({ code: '23514', constraint: 'jobs_lease_only_active' });
    } finally {
      await admin.end();
    }
    expect((await store.getJob(job!.id))?.leaseOwner).toBeNull();
  });

  it('stores a batch of outcomes over the jsonb threshold (64 Mi characters) through the json reader, and claims with it', async () => {
    const store = make();
    await store.init();
    const added = await store.addJobs([newJob({ queue: 'huge' }), newJob({ queue: 'huge' })]);
    const claim = { queue: 'huge', owner: 'w', limit: 1, now: T0, leaseExpiresAt: T0 + 30_000 };
    const [held] = await store.claimJobs(claim);
    // A JSON string result of 65 Mi characters, with escapes, so its text only grows in the batch.
    const result = JSON.stringify(`"\\${'x'.repeat(65 * 1024 * 1024)}`);
    const outcome: JobOutcome = {
      kind: 'completed',
      id: held!.id,
      owner: 'w',
      attempt: 1,
      finishedAt: T0 + 1,
      result,
      record: { attempt: 1, outcome: 'completed', worker: 'w', startedAt: T0, finishedAt: T0 + 1 },
    };
    const finished = await store.finishAndClaim([outcome], { ...claim, now: T0 + 1 });
    expect(finished.applied).toEqual([true]);
    expect(finished.jobs.map((job) => job.id)).toEqual([added[1]!.id]);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ state: string; same: boolean }>(
        `SELECT state, result = $2 AS same FROM "${schema}".jobs WHERE id = $1`,
        [held!.id, result],
      );
      expect(rows[0]).toEqual({ state: 'completed', same: true });
    } finally {
      await admin.end();
    }
    expect((await store.getJob(held!.id))?.history).toEqual([outcome.record]);
  });

  it("keeps a completed attempt's record in its own columns, and moves it into the history when the job runs again", async () => {
    const store = make();
    await store.init();
    const [first, second] = await store.addJobs([newJob({ queue: 'record' }), newJob({ queue: 'record' })]);
    const claim = { queue: 'record', owner: 'w', limit: 2, now: T0, leaseExpiresAt: T0 + 30_000 };
    await store.claimJobs(claim);
    const plain: JobOutcome = {
      kind: 'completed',
      id: first!.id,
      owner: 'w',
      attempt: 1,
      finishedAt: T0 + 5,
      result: '1',
      record: { attempt: 1, outcome: 'completed', worker: 'w', startedAt: T0 + 2, finishedAt: T0 + 5 },
    };
    // A record that says more than the row will (another finish time): kept in the history as given.
    const told: JobOutcome = {
      ...plain,
      id: second!.id,
      record: { ...plain.record, finishedAt: T0 + 4 },
    };
    expect(await store.finishJobs([plain, told])).toEqual([true, true]);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const stored = async (id: string) =>
      (
        await admin.query(
          `SELECT history, completed_worker, completed_started_at::float8 AS completed_started_at FROM "${schema}".jobs WHERE id = $1`,
          [id],
        )
      ).rows[0];
    try {
      expect(await stored(first!.id)).toEqual({
        history: [],
        completed_worker: 'w',
        completed_started_at: T0 + 2,
      });
      expect(await stored(second!.id)).toEqual({
        history: [told.record],
        completed_worker: null,
        completed_started_at: null,
      });
      expect((await store.getJob(first!.id))?.history).toEqual([plain.record]);
      expect((await store.getJob(second!.id))?.history).toEqual([told.record]);

      // Run again (the store lets a caller retry from any state it names): the record stays, once.
      const retried = await store.retryJob(first!.id, { queue: 'record', from: ['completed'], now: T0 + 10 });
      expect(retried.ok && retried.job.history).toEqual([plain.record]);
      expect(await stored(first!.id)).toEqual({
        history: [plain.record],
        completed_worker: null,
        completed_started_at: null,
      });

      // Cancelled (again only by a caller of the store itself): the record stays, with its own finish.
      const cancelled = await store.cancelJob(second!.id, {
        queue: 'record',
        from: ['completed'],
        now: T0 + 20,
      });
      expect(cancelled.ok && cancelled.job.history).toEqual([told.record]);
      const [third] = await store.addJobs([newJob({ queue: 'record' })]);
      await store.claimJobs({ ...claim, now: T0 + 30 });
      await store.finishJobs([{ ...plain, id: third!.id, record: { ...plain.record } }]);
      const cancelledPlain = await store.cancelJob(third!.id, {
        queue: 'record',
        from: ['completed'],
        now: T0 + 40,
      });
      expect(cancelledPlain.ok && cancelledPlain.job.history).toEqual([plain.record]);
      expect(await stored(third!.id)).toEqual({
        history: [plain.record],
        completed_worker: null,
        completed_started_at: null,
      });
    } finally {
      await admin.end();
    }
  });

  it('an outcome racing a cancel of its job applies only if it came first: never both, and the history says which', async () => {
    const worker = make();
    const admin = make();
    await Promise.all([worker.init(), admin.init()]);
    const seen = { outcomeFirst: 0, cancelFirst: 0 };
    for (let round = 0; round < 200; round++) {
      const now = T0 + round * 100;
      const [job] = await admin.addJobs([newJob({ queue: 'race-cancel', createdAt: now })]);
      await worker.claimJobs({
        queue: 'race-cancel',
        owner: 'w',
        limit: 1,
        now,
        leaseExpiresAt: now + 30_000,
      });
      const record = {
        attempt: 1,
        outcome: 'completed' as const,
        worker: 'w',
        startedAt: now,
        finishedAt: now + 1,
      };
      const [applied, cancel] = await Promise.all([
        worker.finishJobs([
          {
            kind: 'completed',
            id: job!.id,
            owner: 'w',
            attempt: 1,
            finishedAt: now + 1,
            result: 'null',
            record,
          },
        ]),
        admin.cancelJob(job!.id, { queue: 'race-cancel', from: ['active'], now: now + 2 }),
      ]);
      const stored = await admin.getJob(job!.id);
      if (applied[0]) {
        seen.outcomeFirst++;
        expect(cancel).toEqual({ ok: false, reason: 'state', state: 'completed' });
        expect(stored).toMatchObject({ state: 'completed', history: [record], leaseOwner: null });
      } else {
        seen.cancelFirst++;
        expect(cancel.ok).toBe(true);
        expect(stored?.state).toBe('cancelled');
        expect(stored?.history.map((entry) => entry.outcome)).toEqual(['cancelled']);
      }
    }
    // Both orders happened (here about 9 to 1), so both were checked.
    expect(seen.outcomeFirst).toBeGreaterThan(0);
    expect(seen.cancelFirst).toBeGreaterThan(0);
  });

  it('stall recovery deletes the offers that lapsed (a worker gone without withdrawing) and keeps the live ones', async () => {
    const store = make();
    await store.init();
    const stops = await Promise.all(['gone', 'live'].map((owner) => store.handoff!.receive(owner, () => {})));
    try {
      const offer = (owner: string, offerUntil: number) =>
        store.claimJobs({
          queue: 'lapse',
          owner,
          limit: 5,
          now: T0,
          leaseExpiresAt: T0 + 30_000,
          offerUntil,
        });
      await offer('gone', T0 + 1_000);
      await offer('live', T0 + 60_000);
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      const owners = async () =>
        (
          await admin.query<{ owner: string }>(
            `SELECT owner FROM "${schema}".offers WHERE queue = 'lapse' ORDER BY owner`,
          )
        ).rows.map((row) => row.owner);
      try {
        expect(await owners()).toEqual(['gone', 'live']);
        await store.recoverStalled({ now: T0 + 2_000 });
        expect(await owners()).toEqual(['live']);
      } finally {
        await admin.end();
      }
    } finally {
      await Promise.all(stops.map((stop) => stop()));
    }
  });

  it('a store whose role may only read starts and reads (it cannot add, and says so)', async () => {
    const ownerErrors: unknown[] = [];
    const owner = new PostgresStore({
      connectionString: POSTGRES_URL,
      schema,
      poolSize: 1,
      onError: (error) => ownerErrors.push(error),
    });
    stores.push(owner);
    await owner.init();
    // A role that may add warms its add statement at init without a word.
    expect(ownerErrors).toEqual([]);
    const [job] = await owner.addJobs([newJob({ queue: 'read-only' })]);
    const role = `sundial_reader_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const url = await createReader(admin, role, schema);
      const errors: unknown[] = [];
      const reader = new PostgresStore({
        connectionString: url,
        schema,
        poolSize: 1,
        onError: (error) => errors.push(error),
      });
      try {
        await reader.init();
        expect((await reader.getJob(job!.id))?.state).toBe('waiting');
        await expect(reader.addJobs([newJob({ queue: 'read-only' })])).rejects.toThrow(/permission denied/);
        // The warm-up's refusal at init is expected, not reported.
        expect(errors).toEqual([]);
      } finally {
        await reader.close();
      }
    } finally {
      await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('the opt-in maintenance vacuum runs from one process at a time, and a role that does not own the tables is told once', async () => {
    const own = `sundial_test_${randomBytes(6).toString('hex')}`;
    const errors: unknown[] = [];
    const store = new PostgresStore({
      connectionString: POSTGRES_URL,
      schema: own,
      poolSize: 2,
      maintenanceVacuum: 100,
      onError: (error) => errors.push(error),
    });
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const role = `sundial_reader_${randomBytes(4).toString('hex')}`;
    const vacuums = async () => {
      await admin.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await admin.query<{ n: string }>(
        `SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
        [own],
      );
      return Number(rows[0]?.n ?? 0);
    };
    try {
      await store.addJobs([newJob(), newJob()]);
      await waitFor(async () => (await vacuums()) >= 2);
      // While another process holds the schema's vacuum lock, rounds pass without a vacuum.
      await admin.query(`SELECT pg_advisory_lock(${VACUUM_LOCK_CLASS}, hashtext($1))`, [own]);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a round under way ends
      const held = await vacuums();
      await new Promise((resolve) => setTimeout(resolve, 1000)); // ten rounds' time
      expect(await vacuums()).toBe(held);
      await admin.query(`SELECT pg_advisory_unlock(${VACUUM_LOCK_CLASS}, hashtext($1))`, [own]);
      await waitFor(async () => (await vacuums()) > held);
      expect(errors).toEqual([]);
      expect((await store.listJobs({ queue: 'q', state: 'waiting', limit: 10 })).length).toBe(2);

      // A role that may use the tables but does not own them: PostgreSQL would skip them in silence.
      const url = await createReader(admin, role, own);
      const readerErrors: unknown[] = [];
      const reader = new PostgresStore({
        connectionString: url,
        schema: own,
        poolSize: 1,
        maintenanceVacuum: 100,
        onError: (error) => readerErrors.push(error),
      });
      try {
        await reader.init();
        await waitFor(() => readerErrors.length > 0);
        await new Promise((resolve) => setTimeout(resolve, 500)); // five more rounds' time
        expect(readerErrors).toHaveLength(1);
        expect(readerErrors[0]).toMatchObject({ code: 'SUNDIAL_VACUUM_NOT_OWNER' });
        expect(String(readerErrors[0])).toMatch(/store\.maintenanceVacuum.*does not own/);
      } finally {
        await reader.close();
      }
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${own}" CASCADE`);
      await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('refuses a maintenance vacuum interval that is not one, naming the field and value', () => {
    for (const value of [5, -1, 1.5, '30s', 86_400_001]) {
      expect(() => new PostgresStore({ maintenanceVacuum: value as number })).toThrow(
        /store\.maintenanceVacuum.*(5|-1|1\.5|30s|86400001)/,
      );
    }
  });

  it('refuses a schema name that is not a plain identifier, naming the field and value', () => {
    expect(() => new PostgresStore({ schema: 'Robert"; DROP TABLE x;--' })).toThrow(
      /Invalid store\.schema: "Robert\\"; DROP TABLE x;--"/,
    );
  });
  it('reads a jobs table that grew after its first claims by index, not by scanning every row (plans follow the table)', async () => {
    // Its own schema: the counters read below must be this test's alone.
    const own = `sundial_test_${randomBytes(6).toString('hex')}`;
    const store = new PostgresStore({ connectionString: POSTGRES_URL, schema: own, poolSize: 1 });
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      // One job at a time through add, claim and completion while the table is a few rows long:
      // more than the five executions after which PostgreSQL would keep a generic plan.
      const cycle = async (n: number) => {
        const [added] = await store.addJobs([newJob()]);
        const { jobs } = await store.finishAndClaim([], {
          queue: 'q',
          owner: 'w1',
          limit: 1,
          now: T0 + n,
          leaseExpiresAt: T0 + n + 30_000,
        });
        expect(jobs.map((job) => job.id)).toEqual([added!.id]);
        const outcome: JobOutcome = {
          kind: 'completed',
          id: added!.id,
          owner: 'w1',
          attempt: 1,
          finishedAt: T0 + n,
          result: 'null',
          record: { attempt: 1, outcome: 'completed', worker: 'w1', startedAt: T0 + n, finishedAt: T0 + n },
        };
        expect(await store.finishJobs([outcome])).toEqual([true]);
      };
      for (let n = 0; n < 8; n++) await cycle(n);
      // The table grows by 60,000 finished jobs, with no VACUUM or ANALYZE after it (as on a server
      // whose autovacuum is off).
      await admin.query(
        `INSERT INTO "${own}".jobs (queue, name, payload, state, run_at, max_attempts, backoff, max_stalls,
           created_at, finished_at, result)
         SELECT 'q', 'work', '{}', 'completed', ${T0}, 1, '{"type":"none"}', 1, ${T0}, ${T0}, 'null'
         FROM generate_series(1, 60000)`,
      );
      const before = await tableReads(admin, own);
      for (let n = 8; n < 28; n++) await cycle(n);
      await store.close(); // its connections end, and report what they read
      // Once the twenty cycles' index reads are counted, so are their scans: they read no more rows
      // by scanning than a table of a few rows holds, where a plan kept from when the table was
      // small would have scanned all 60,000 rows in each.
      await waitFor(async () => (await tableReads(admin, own)).byIndex >= before.byIndex + 20);
      expect((await tableReads(admin, own)).byScan - before.byScan).toBeLessThan(60_000);
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${own}" CASCADE`);
      await admin.end();
    }
  });
});

/** How the server has read the jobs table of a schema: rows read by whole-table scans, index scans. */
async function tableReads(client: pg.Client, schema: string): Promise<{ byScan: number; byIndex: number }> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ by_scan: string; by_index: string }>(
    `SELECT coalesce(seq_tup_read, 0) AS by_scan, coalesce(idx_scan, 0) AS by_index
     FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
    [schema],
  );
  return { byScan: Number(rows[0]?.by_scan ?? 0), byIndex: Number(rows[0]?.by_index ?? 0) };
}

/** Creates a role that may log in and read the schema's tables, and returns its connection URL. */
async function createReader(admin: pg.Client, role: string, schema: string): Promise<string> {
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  await admin.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
  await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
  const url = new URL(POSTGRES_URL);
  url.username = role;
  url.password = password;
  return url.toString();
}
