import { InvalidOptionError, type Job } from '../../core/index.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  type ClaimRequest,
  type FinishAndClaimResult,
  type FireScheduleRequest,
  type JobOutcome,
  type NewJob,
} from '../store.ts';
import { type FlatHash, jobFromHash, nullable, pushJobArgs } from './jobs.ts';
import { globalBase, queueBase } from './keys.ts';
import { finishAndClaimScript, type ScriptRunner } from './runner.ts';

/*
 * The changes that a single Redis makes in one script but a Redis Cluster cannot, because they
 * touch the global keys (slot of `{P}`) and a queue's keys (slot of `{P:q}`) together. Here each
 * becomes a few single-slot scripts in an order that a crash between them cannot turn into a lost
 * or doubled job:
 *
 * - The global step that indexes an id comes first, so a job never exists without its id being
 *   findable. A crash after it leaves an index entry for a job that never came; such an entry
 *   reads as not found, like any unknown id.
 * - Runs of a schedule are indexed (for latestRuns) after their jobs exist; a crash before that
 *   leaves latestRuns one run behind until the next.
 * - A fire is decided in the queue, not by the schedule's compare-and-set: the queue remembers the
 *   last occurrence each schedule fired into it, so one occurrence inserts its jobs once however
 *   many schedulers race or die half-way; whoever comes next moves the schedule on.
 * - Calls by job id go to the node of the job's queue, found from what this store claimed or from
 *   the global id index (a job's queue never changes, so reading it first is no race).
 */

/**
 * The queue of each job a Cluster store works on by id: remembered for the jobs it claimed (a
 * finish then needs no lookup), else read from the global id index.
 */
export class JobQueues {
  private readonly claimed = new Map<string, string>();
  private readonly lookup: (ids: string[]) => Promise<(string | null)[]>;

  constructor(lookup: (ids: string[]) => Promise<(string | null)[]>) {
    this.lookup = lookup;
  }

  /** The queue of each job that has one. */
  async of(ids: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const unknown: string[] = [];
    for (const id of ids) {
      const queue = this.claimed.get(id);
      if (queue === undefined) unknown.push(id);
      else found.set(id, queue);
    }
    if (unknown.length > 0) {
      const queues = await this.lookup(unknown);
      unknown.forEach((id, i) => {
        const queue = queues[i];
        if (typeof queue === 'string') found.set(id, queue);
      });
    }
    return found;
  }

  remember(jobs: readonly Job[]): void {
    for (const job of jobs) this.claimed.set(job.id, job.queue);
  }

  /** Jobs this store will not finish or release (again): done, released, or their lease lost. */
  forget(ids: Iterable<string>): void {
    for (const id of ids) this.claimed.delete(id);
  }
}

/**
 * Runs `work` once per queue of the jobs, each with that queue's items, at the same time. Jobs found
 * in no queue are left out, as a script leaves out an unknown id.
 */
export async function perQueue<T, R>(
  runner: ScriptRunner,
  queues: JobQueues,
  items: readonly T[],
  idOf: (item: T) => string,
  work: (base: string, some: readonly T[]) => Promise<R>,
): Promise<R[]> {
  const found = await queues.of(items.map(idOf));
  const groups = byQueue(items, (item) => found.get(idOf(item)));
  return Promise.all(
    [...groups].map(([queue, positions]) =>
      work(
        queueBase(runner.prefix, queue),
        positions.map((i) => items[i]!),
      ),
    ),
  );
}

/**
 * Outcomes go to their queues' nodes: those of other queues first, one script per queue at the
 * same time, then those of the claim's queue with the claim in one script, as on a single Redis.
 * Claiming last means a failure elsewhere throws before anything is claimed: jobs claimed in a call
 * that then failed would sit active, held by no one, until their lease ran out.
 */
export async function finishAndClaimOnCluster(
  runner: ScriptRunner,
  queues: JobQueues,
  outcomes: readonly JobOutcome[],
  claim: ClaimRequest | null,
): Promise<FinishAndClaimResult> {
  const found = await queues.of(outcomes.map((outcome) => outcome.id));
  const groups = byQueue(outcomes, (outcome) => found.get(outcome.id));
  const applied: boolean[] = outcomes.map(() => false);
  const finishIn = async (queue: string, positions: readonly number[], own: ClaimRequest | null) => {
    const result = await finishAndClaimScript(
      runner,
      queueBase(runner.prefix, queue),
      positions.map((i) => outcomes[i]!),
      own,
    );
    positions.forEach((position, k) => {
      applied[position] = result.applied[k]!;
    });
    return result;
  };
  const others = [...groups].filter(([queue]) => queue !== claim?.queue);
  await Promise.all(others.map(([queue, positions]) => finishIn(queue, positions, null)));
  const claimed = claim ? await finishIn(claim.queue, groups.get(claim.queue) ?? [], claim) : null;
  queues.forget(outcomes.map((outcome) => outcome.id));
  if (!claimed) return { applied, jobs: [] };
  queues.remember(claimed.jobs);
  return { ...claimed, applied };
}

/** The newest job of each schedule, from the global runs index, then each job from its queue. */
export async function latestRunsOnCluster(runner: ScriptRunner): Promise<Map<string, Job>> {
  const heads = (await runner.run('runHeads', globalBase(runner.prefix), [])) as [string, string, string][];
  const runs = await Promise.all(
    heads.map(async ([schedule, id, queue]) => {
      const flat = (await runner.run('getJob', queueBase(runner.prefix, queue), [id])) as FlatHash;
      return [schedule, flat] as const;
    }),
  );
  return new Map(
    runs.filter(([, flat]) => flat.length > 0).map(([schedule, flat]) => [schedule, jobFromHash(flat)]),
  );
}

/** The positions of `items` per queue, in order of first appearance. */
export function byQueue<T>(items: readonly T[], queueOf: (item: T, index: number) => string | undefined) {
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const queue = queueOf(item, index);
    if (queue === undefined) return;
    const positions = groups.get(queue);
    if (positions) positions.push(index);
    else groups.set(queue, [index]);
  });
  return groups;
}

/** The schedule a job was fired by, as its origin says (the scripts read it the same way). */
function scheduleOf(job: NewJob): string | null {
  if (job.origin === null || !job.origin.includes('schedule')) return null;
  try {
    const parsed = JSON.parse(job.origin) as { schedule?: unknown } | null;
    return typeof parsed?.schedule === 'string' ? parsed.schedule : null;
  } catch {
    return null;
  }
}

/** Consecutive ids as strings, from the first one a reserving script returned. */
function idsFrom(first: unknown, count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(Number(first) + i));
}

/**
 * The global index changes after inserts: runs of schedules for the jobs inserted, and the reserved
 * ids that no job took (its key was held by a live job). As updateIndex reads them.
 */
function indexChanges(jobs: readonly NewJob[], reserved: readonly string[], added: readonly AddedJob[]) {
  const runs: string[] = [];
  const forget: string[] = [];
  const used = new Set(added.filter((job) => !job.duplicate).map((job) => job.id));
  added.forEach((job, i) => {
    const schedule = scheduleOf(jobs[i]!);
    if (!job.duplicate && schedule !== null) runs.push(job.id, schedule);
  });
  for (const id of reserved) if (!used.has(id)) forget.push(id, '');
  return { changed: runs.length + forget.length > 0, args: [String(runs.length / 2), ...runs, ...forget] };
}

/** Adds jobs on a Cluster: per queue, ids reserved globally, then the inserts in the queue's slot. */
export async function addJobsOnCluster(runner: ScriptRunner, jobs: readonly NewJob[]): Promise<AddedJob[]> {
  const global = globalBase(runner.prefix);
  const results: AddedJob[] = new Array(jobs.length);
  await Promise.all(
    [...byQueue(jobs, (job) => job.queue)].map(async ([queue, positions]) => {
      const group = positions.map((i) => jobs[i]!);
      const reserved = idsFrom(
        await runner.run(
          'reserveIds',
          global,
          group.map(() => queue),
        ),
        group.length,
      );
      const args = [reserved.join(',')];
      for (const job of group) pushJobArgs(args, job);
      const added = addedJobs(await runner.run('addJobs', queueBase(runner.prefix, queue), args));
      const changes = indexChanges(group, reserved, added);
      if (changes.changed) await runner.run('updateIndex', global, changes.args);
      positions.forEach((position, k) => {
        results[position] = added[k]!;
      });
    }),
  );
  return results;
}

/** The ids addJobs returns (comma-separated, a duplicate's marked '!'), as AddedJob. */
export function addedJobs(reply: unknown): AddedJob[] {
  const text = String(reply);
  if (text === '') return [];
  return text
    .split(',')
    .map((entry) =>
      entry.startsWith('!') ? { id: entry.slice(1), duplicate: true } : { id: entry, duplicate: false },
    );
}

/** fireSchedule's per-job entries (id, duplicate flag, replaced id or '') as AddedJob. */
export function firedEntries(entries: readonly [string, number, string][]): AddedJob[] {
  return entries.map(([id, duplicate, replaced]) =>
    replaced === ''
      ? { id: String(id), duplicate: duplicate === 1 }
      : { id: String(id), duplicate: duplicate === 1, replaced },
  );
}

/**
 * Fires a schedule on a Cluster: the schedule checked and ids reserved (two per job: its insert and
 * a buffered or replacing one), the jobs inserted unless their queue saw this occurrence fired
 * already, then the schedule moved on and the runs indexed. Fired: this call inserted the jobs (or,
 * with no jobs to insert, moved the schedule on). The jobs of one fire share a queue, as the
 * scheduler's do (one task's occurrences).
 */
export async function fireScheduleOnCluster(
  runner: ScriptRunner,
  request: FireScheduleRequest,
): Promise<{ fired: boolean; added: AddedJob[] }> {
  const global = globalBase(runner.prefix);
  const expected = String(request.expectedNextRunAt);
  const queue = request.jobs[0]?.queue;
  const strayJob = request.jobs.find((job) => job.queue !== queue);
  if (strayJob) {
    throw new InvalidOptionError(
      'jobs[].queue',
      strayJob.queue,
      `the queue of the fire's other jobs (${queue})`,
    );
  }
  const first = await runner.run('fireBegin', global, [
    request.id,
    expected,
    ...request.jobs.flatMap((job) => [job.queue, job.queue]),
  ]);
  if (first === 0) return { fired: false, added: [] };
  const reserved = idsFrom(first, request.jobs.length * 2);
  let added: AddedJob[] = [];
  if (queue !== undefined) {
    const args = [
      request.id,
      expected,
      request.whenActive ?? '',
      BUFFERED_KEY_SUFFIX,
      String(request.firedAt),
      reserved.join(','),
    ];
    for (const job of request.jobs) pushJobArgs(args, job);
    const [inserted, entries] = (await runner.run('fireInsert', queueBase(runner.prefix, queue), args)) as [
      number,
      [string, number, string][],
    ];
    if (inserted === 1) added = firedEntries(entries);
  }
  const changes = indexChanges(added.length > 0 ? request.jobs : [], reserved, added);
  const advanced = await runner.run('fireAdvance', global, [
    request.id,
    expected,
    nullable(request.nextRunAt),
    String(request.firedAt),
    ...changes.args,
  ]);
  if (queue === undefined) return { fired: advanced === 1, added: [] };
  return { fired: added.length > 0, added };
}
