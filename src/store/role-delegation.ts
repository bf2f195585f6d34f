import type { Job, JobState } from '../core/index.ts';
import type { FindJobsRequest, FoundJobs, JobFilter, JobSearch, MatchCount } from './job-search.ts';
import type {
  AddedJob,
  FireScheduleRequest,
  FlagStore,
  JobManagement,
  ListJobsRequest,
  LockOwner,
  LockRecord,
  LockStore,
  QueueSettings,
  ScheduleRecord,
  ScheduleStore,
  ScheduleSync,
  TransitionRequest,
  TransitionResult,
} from './store.ts';

/** An engine's roles other than the job work, each kept in a module of its own. */
export interface StoreRoles {
  management: JobManagement & QueueSettings & JobSearch;
  schedules: ScheduleStore;
  locks: LockStore & FlagStore;
}

/**
 * The part of a store that hands each call to the engine's module for its role (PostgreSQL's and
 * Redis's management.ts, schedules.ts, locks.ts), so the store class keeps only the job work and
 * the connections. The engine sets `roles` in its constructor.
 */
export abstract class RoleDelegatingStore
  implements JobManagement, QueueSettings, JobSearch, ScheduleStore, LockStore, FlagStore
{
  protected roles!: StoreRoles;

  getJob(id: string): Promise<Job | null> {
    return this.roles.management.getJob(id);
  }
  listJobs(request: ListJobsRequest): Promise<Job[]> {
    return this.roles.management.listJobs(request);
  }
  countJobs(queue: string): Promise<Record<JobState, number>> {
    return this.roles.management.countJobs(queue);
  }
  retryJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    return this.roles.management.retryJob(id, request);
  }
  cancelJob(id: string, request: TransitionRequest & { now: number }): Promise<TransitionResult> {
    return this.roles.management.cancelJob(id, request);
  }
  removeJob(id: string, request: TransitionRequest): Promise<TransitionResult> {
    return this.roles.management.removeJob(id, request);
  }
  pruneJobs(request: {
    queue: string;
    states: readonly JobState[];
    finishedBefore: number;
  }): Promise<number> {
    return this.roles.management.pruneJobs(request);
  }
  setQueuePaused(queue: string, paused: boolean): Promise<void> {
    return this.roles.management.setQueuePaused(queue, paused);
  }
  isQueuePaused(queue: string): Promise<boolean> {
    return this.roles.management.isQueuePaused(queue);
  }
  listQueues(): Promise<string[]> {
    return this.roles.management.listQueues();
  }
  findJobs(request: FindJobsRequest): Promise<FoundJobs> {
    return this.roles.management.findJobs(request);
  }
  countMatching(filter: JobFilter, cap: number): Promise<MatchCount> {
    return this.roles.management.countMatching(filter, cap);
  }
  forgetQueue(queue: string): Promise<boolean> {
    return this.roles.management.forgetQueue(queue);
  }
  syncSchedules(entries: readonly ScheduleSync[], now: number): Promise<void> {
    return this.roles.schedules.syncSchedules(entries, now);
  }
  fireSchedule(request: FireScheduleRequest): Promise<{ fired: boolean; added: AddedJob[] }> {
    return this.roles.schedules.fireSchedule(request);
  }
  nextScheduleRunAt(): Promise<number | null> {
    return this.roles.schedules.nextScheduleRunAt();
  }
  listSchedules(): Promise<ScheduleRecord[]> {
    return this.roles.schedules.listSchedules();
  }
  latestRuns(): Promise<Map<string, Job>> {
    return this.roles.schedules.latestRuns();
  }
  setSchedulePaused(
    id: string,
    paused: boolean,
    note: string | null,
    now: number,
    resumeAt?: number | null,
  ): Promise<boolean> {
    return this.roles.schedules.setSchedulePaused(id, paused, note, now, resumeAt);
  }
  acquireLock(request: {
    name: string;
    owner: LockOwner;
    ttlMs: number;
    now: number;
  }): Promise<LockRecord | null> {
    return this.roles.locks.acquireLock(request);
  }
  renewLock(name: string, token: number, now: number): Promise<boolean> {
    return this.roles.locks.renewLock(name, token, now);
  }
  releaseLock(name: string, token?: number): Promise<boolean> {
    return this.roles.locks.releaseLock(name, token);
  }
  listLocks(): Promise<LockRecord[]> {
    return this.roles.locks.listLocks();
  }
  getFlag(name: string): Promise<string | null> {
    return this.roles.locks.getFlag(name);
  }
  setFlag(name: string, value: string | null): Promise<void> {
    return this.roles.locks.setFlag(name, value);
  }
}
