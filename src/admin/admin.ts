import { type LockRecord, MAINTENANCE_FLAG } from '../store/index.ts';
import type { AdminContext } from './context.ts';
import { DeadLettersAdmin, JobsAdmin } from './jobs.ts';
import type { OperationInfo, Operations } from './operations.ts';
import { QueuesAdmin } from './queues.ts';
import { SchedulesAdmin } from './schedules.ts';
import { LOCKS_CLEAR, MAINTENANCE_DOWN, OPERATION_REF } from './schemas.ts';
import { parseInput } from './validate.ts';

/** Maintenance mode as `sundial down` set it. */
export interface MaintenanceStatus {
  on: boolean;
  since: number | null;
  note: string | null;
}

/**
 * Everything an operator does, in one typed surface: `sundial.admin`. The CLI and the HTTP API are
 * shells over it, call for call. Each call takes one plain object, checked by its schema, so a
 * wrong field is refused with its name and value before anything changes.
 *
 * @example
 * const page = await sundial.admin.jobs.list({ queue: 'emails', states: ['dead'], limit: 20 });
 * const op = await sundial.admin.dlq.retryAll({ queue: 'emails' });
 * await sundial.admin.operations.wait(op.id, (p) => console.log(`${p.processed}/${p.total}`));
 */
export class Admin {
  readonly jobs: JobsAdmin;
  readonly dlq: DeadLettersAdmin;
  readonly queues: QueuesAdmin;
  readonly schedules: SchedulesAdmin;
  readonly locks: LocksAdmin;
  readonly maintenance: MaintenanceAdmin;
  readonly operations: OperationsAdmin;

  constructor(context: AdminContext) {
    this.jobs = new JobsAdmin(context);
    this.dlq = new DeadLettersAdmin(this.jobs);
    this.queues = new QueuesAdmin(context, this.jobs);
    this.schedules = new SchedulesAdmin(context);
    this.locks = new LocksAdmin(context);
    this.maintenance = new MaintenanceAdmin(context);
    this.operations = new OperationsAdmin(context.operations);
  }
}

/** Locks held in the store: who holds them, and clearing them by hand. */
export class LocksAdmin {
  private readonly context: AdminContext;

  constructor(context: AdminContext) {
    this.context = context;
  }

  list(): Promise<LockRecord[]> {
    return this.context.locks.list();
  }

  /** Releases a lock (`lock`), a task's lock (`task`), or with neither every lock, whoever holds it. */
  async clear(input: unknown = {}): Promise<{ cleared: number }> {
    const { lock, task } = parseInput(LOCKS_CLEAR, input);
    const names =
      lock !== undefined || task !== undefined
        ? [lock, task === undefined ? undefined : `task:${task}`].filter((name) => name !== undefined)
        : (await this.context.locks.list()).map((held) => held.name);
    let cleared = 0;
    for (const name of names) if (await this.context.locks.forceRelease(name)) cleared++;
    return { cleared };
  }
}

/** The store-wide maintenance flag: while on, scheduled tasks skip unless marked to run anyway. */
export class MaintenanceAdmin {
  private readonly context: AdminContext;

  constructor(context: AdminContext) {
    this.context = context;
  }

  async status(): Promise<MaintenanceStatus> {
    const value = await this.context.store.getFlag(MAINTENANCE_FLAG);
    if (value === null) return { on: false, since: null, note: null };
    try {
      const { since, note } = JSON.parse(value) as { since?: unknown; note?: unknown };
      return {
        on: true,
        since: typeof since === 'number' ? since : null,
        note: typeof note === 'string' ? note : null,
      };
    } catch {
      return { on: true, since: null, note: null }; // set by hand with other text: still on
    }
  }

  async down(input: unknown = {}): Promise<MaintenanceStatus> {
    const { note } = parseInput(MAINTENANCE_DOWN, input);
    const status = { on: true, since: this.context.clock.now(), note: note ?? null };
    await this.context.store.setFlag(
      MAINTENANCE_FLAG,
      JSON.stringify({ since: status.since, note: status.note }),
    );
    return status;
  }

  async up(): Promise<{ wasOn: boolean }> {
    const { on } = await this.status();
    await this.context.store.setFlag(MAINTENANCE_FLAG, null);
    return { wasOn: on };
  }
}

/** Bulk actions started in this process: followed by id until they end. */
export class OperationsAdmin {
  private readonly operations: Operations;

  constructor(operations: Operations) {
    this.operations = operations;
  }

  get(input: unknown): OperationInfo {
    return this.operations.get(parseInput(OPERATION_REF, input).operation);
  }

  list(): OperationInfo[] {
    return this.operations.list();
  }

  /** Resolves with the operation once it ends; `onProgress` hears each step until then. */
  wait(id: string, onProgress?: (info: OperationInfo) => void): Promise<OperationInfo> {
    return this.operations.wait(parseInput(OPERATION_REF, { operation: id }).operation, onProgress);
  }
}
