import type { Job } from '../../core/index.ts';
import {
  type AddedJob,
  BUFFERED_KEY_SUFFIX,
  type FireScheduleRequest,
  type ScheduleRecord,
  type ScheduleStore,
  type ScheduleSync,
} from '../store.ts';
import { firedEntries, fireScheduleOnCluster, latestRunsOnCluster } from './cluster.ts';
import type { RedisContext } from './context.ts';
import { type FlatHash, fields, jobFromHash, nullable, pushJobArgs } from './jobs.ts';

/** Scheduled tasks' records and their exactly-once fire: the Redis engine's `ScheduleStore`. */
export class RedisSchedules implements ScheduleStore {
  private readonly redis: RedisContext;

  constructor(context: RedisContext) {
    this.redis = context;
  }

  async syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    this.redis.check();
    if (entries.length === 0) return;
    const args = [String(now)];
    for (const entry of entries) args.push(entry.id, entry.specHash, nullable(entry.nextRunAt));
    await this.redis.run('syncSchedules', this.redis.global, args);
  }

  async fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    this.redis.check();
    if (this.redis.onCluster) return fireScheduleOnCluster(this.redis, request);
    const args = [
      request.id,
      String(request.expectedNextRunAt),
      nullable(request.nextRunAt),
      String(request.firedAt),
      request.whenActive ?? '',
      BUFFERED_KEY_SUFFIX,
    ];
    for (const job of request.jobs) pushJobArgs(args, job);
    const [fired, added] = (await this.redis.run('fireSchedule', this.redis.global, args)) as [
      number,
      [string, number, string][],
    ];
    return { fired: fired === 1, added: firedEntries(added) };
  }

  async nextScheduleRunAt(): Promise<number | null> {
    this.redis.check();
    const [, score] = await this.redis.command(() =>
      this.redis.client.zrange(`${this.redis.global}:schedules-due`, '0', '0', 'WITHSCORES'),
    );
    return score === undefined ? null : Number(score);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.redis.check();
    const rows = (await this.redis.run('listSchedules', this.redis.global, [])) as [string, FlatHash][];
    return rows.map(([id, flat]) => {
      const f = fields(flat);
      return {
        id,
        specHash: f.get('specHash')!,
        nextRunAt: numberOrNull(f.get('nextRunAt')),
        lastRunAt: numberOrNull(f.get('lastRunAt')),
        paused: f.get('paused') === '1',
        note: f.get('note') ?? null,
        updatedAt: Number(f.get('updatedAt')),
      };
    });
  }

  async latestRuns(): Promise<Map<string, Job>> {
    this.redis.check();
    if (this.redis.onCluster) return latestRunsOnCluster(this.redis);
    const rows = (await this.redis.run('latestRuns', this.redis.global, [])) as [string, FlatHash][];
    return new Map(rows.map(([schedule, flat]) => [schedule, jobFromHash(flat)]));
  }

  async setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    this.redis.check();
    const resume = resumeAt === undefined ? '' : `+${nullable(resumeAt)}`;
    const changed = await this.redis.run('setSchedulePaused', this.redis.global, [
      id,
      paused ? '1' : '0',
      nullable(note),
      String(now),
      resume,
    ]);
    return changed === 1;
  }
}

function numberOrNull(text: string | undefined): number | null {
  return text === undefined ? null : Number(text);
}
