import { EventEmitter } from 'node:events';
import type { Job, JobError } from './job.ts';

/** Everything Sundial reports while it works. Listen with `sundial.on(name, listener)`. */
export interface SundialEvents {
  'job.added': { job: Job };
  'job.started': { job: Job; worker: string };
  'job.completed': { job: Job; result: unknown; durationMs: number; worker: string };
  /** An attempt failed; `job.retrying` or `job.dead` follows. */
  'job.failed': { job: Job; error: JobError; durationMs: number; worker: string };
  'job.retrying': { job: Job; error: JobError; delayMs: number; runAt: number };
  'job.dead': { job: Job; error: JobError };
  /** A job whose worker stopped renewing its lease was recovered (or, past `maxStalls`, made dead). */
  'job.stalled': { jobId: string; queue: string; name: string; recovered: boolean };
  'worker.started': { worker: string; queue: string; concurrency: number };
  'worker.stopped': { worker: string; queue: string; released: number };
  /** Something went wrong outside any one job (a store error in the claim loop, say). */
  error: { error: unknown; context: string };
}

export type SundialEventName = keyof SundialEvents;

/** A typed face on Node's EventEmitter. */
export class TypedEmitter<Events extends object> {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  on<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  once<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): () => void {
    this.emitter.once(name, listener);
    return () => this.emitter.off(name, listener);
  }

  off<Name extends keyof Events & string>(name: Name, listener: (event: Events[Name]) => void): void {
    this.emitter.off(name, listener);
  }

  /** True when someone listens, so hot paths can skip building an event nobody reads. */
  has(name: keyof Events & string): boolean {
    return this.emitter.listenerCount(name) > 0;
  }

  emit<Name extends keyof Events & string>(name: Name, event: Events[Name]): void {
    if (this.emitter.listenerCount(name) === 0) return;
    this.emitter.emit(name, event);
  }
}
