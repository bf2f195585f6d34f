import { backoffJson } from '../encoding.ts';
import type { AddedJob, NewJob } from '../store.ts';
import type { Queryable } from './context.ts';
import { BATCH_ROWS, dedupeSlot, HANDOFF_MAX_BATCH, INSERT_COLUMNS, ON_KEY_HELD } from './job-sql.ts';
import { dedupeHolder } from './management.ts';

/** Where and how `insertJobs` adds: the schema, and the handing statement when handoff is on. */
export interface InsertTarget {
  q: string;
  schema: string;
  /** The add statement that hands jobs to idle workers (see `handingInsertSql`); null with handoff off. */
  handingInsert: string | null;
  /** Its parameters: the batch, now, and whether to commit before the flush. */
  handingValues(batch: string, now: number): unknown[];
}

/**
 * Inserts jobs in order in one statement, each deduped against live jobs (and earlier ones of the
 * batch). Identity values follow the insert order, which follows the batch order, so the new
 * ids, in order, belong to the jobs that were inserted, in order. With `notify`, the statement
 * also hands jobs to idle workers (see `handingInsertSql`), and the queues of the jobs inserted
 * and not handed go into `woken`, for the caller to wake once the statement has committed.
 */
export async function insertJobs(
  target: InsertTarget,
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
  const plain = `INSERT INTO ${target.q}.jobs (${INSERT_COLUMNS})
    SELECT q, n, p, s, pr, r, m, b, t, d, ms, o::jsonb, c FROM ${BATCH_ROWS} ORDER BY i
    ${ON_KEY_HELD} RETURNING id, queue, dedupe_key`;
  // Named, so each connection parses and plans it once: a single add is a round trip, no more.
  const { rows } = await client.query<{
    id: number;
    queue: string;
    dedupe_key: string | null;
    handed?: boolean;
  }>(
    notify && target.handingInsert !== null && jobs.length <= HANDOFF_MAX_BATCH
      ? {
          name: `${target.schema}:insert-hand`,
          text: target.handingInsert,
          values: target.handingValues(batch, jobs[0]!.createdAt),
        }
      : { name: `${target.schema}:insert`, text: plain, values: [batch] },
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
    const holder = await dedupeHolder(client, target.q, job.queue, job.dedupeKey!);
    if (holder) out[i] = { id: holder, duplicate: true };
    else freed.push(i);
  }
  if (freed.length > 0) {
    const retried = await insertJobs(
      target,
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
