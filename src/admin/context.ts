import type { Clock } from '../core/index.ts';
import type { LockProvider } from '../locks/index.ts';
import type { Queue } from '../queue/index.ts';
import type { LoadedTask } from '../schedule/index.ts';
import type { Store } from '../store/index.ts';
import type { Operations } from './operations.ts';

/** What the admin surface needs from its Sundial. */
export interface AdminContext {
  store: Store;
  clock: Clock;
  /** A queue to act through: the app's own when it made one, else one with default options. */
  queue(name: string): Queue;
  locks: LockProvider;
  /** The tasks this Sundial's schedulers know (what `schedules.list` describes and `trigger` fires). */
  tasks(): readonly LoadedTask[];
  /** Adds a run of a task now, through the scheduler that knows it. */
  trigger(
    task: string,
    options: { force: boolean },
  ): Promise<{ jobId: string; queue: string; duplicate: boolean }>;
  operations: Operations;
}
