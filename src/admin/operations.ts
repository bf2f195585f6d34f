import { randomUUID } from 'node:crypto';
import { type Clock, SundialError } from '../core/index.ts';

/** A bulk action as any front end sees it: started, then followed by its id until it ends. */
export interface OperationInfo {
  id: string;
  /** What it does: `retry`, `cancel`, `remove`, `promote`, `drain`, `obliterate`, `purge`. */
  kind: string;
  queue: string;
  state: 'running' | 'done' | 'failed';
  /** How many jobs matched when it started (`totalExact` false: at least that many). */
  total: number;
  totalExact: boolean;
  /** Jobs looked at so far. */
  processed: number;
  /** Jobs the action applied to. */
  changed: number;
  /** Jobs left as they were: their state changed meanwhile, or a live job holds their dedupe key. */
  skipped: number;
  /** Why it failed, or what it could not finish; null when all went well. */
  error: string | null;
  /** The failure's code where it had one (`SUNDIAL_STORE_UNAVAILABLE`: try again later). */
  errorCode: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/** What the work of an operation reports as it goes. */
export interface Progress {
  looked(changed: boolean): void;
}

type Listener = (info: OperationInfo) => void;

/** How many finished operations are kept for anyone still following them. */
const KEPT_FINISHED = 100;

/**
 * The bulk actions of one Sundial, running or recently finished. They run in this process: a front
 * end that started one (the CLI, the HTTP API) follows it here by id, instead of holding a request
 * open until the last job is done.
 */
export class Operations {
  private readonly all = new Map<
    string,
    { info: OperationInfo; listeners: Set<Listener>; done: Promise<void> }
  >();
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Starts `work` as an operation and returns it at once, running. */
  start(
    kind: string,
    queue: string,
    total: { count: number; exact: boolean },
    work: (progress: Progress) => Promise<string | null>,
  ): OperationInfo {
    const info: OperationInfo = {
      id: randomUUID(),
      kind,
      queue,
      state: 'running',
      total: total.count,
      totalExact: total.exact,
      processed: 0,
      changed: 0,
      skipped: 0,
      error: null,
      errorCode: null,
      startedAt: this.clock.now(),
      finishedAt: null,
    };
    const listeners = new Set<Listener>();
    const tell = () => {
      for (const listener of listeners) listener({ ...info });
    };
    const progress: Progress = {
      looked: (changed) => {
        info.processed++;
        if (changed) info.changed++;
        else info.skipped++;
        tell();
      },
    };
    // Started after this turn (a macrotask), so the caller holds the id (and can listen) before
    // any progress, even on an engine whose calls settle at once.
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => work(progress))
      .then(
        (unfinished) => {
          info.error = unfinished;
          info.state = unfinished === null ? 'done' : 'failed';
        },
        (error: unknown) => {
          info.error = error instanceof Error ? error.message : String(error);
          info.errorCode = (error as { code?: unknown } | null)?.code?.toString() ?? null;
          info.state = 'failed';
        },
      )
      .then(() => {
        info.finishedAt = this.clock.now();
        tell();
        listeners.clear();
        this.forgetOldest();
      });
    this.all.set(info.id, { info, listeners, done });
    return { ...info };
  }

  get(id: string): OperationInfo {
    return { ...this.entry(id).info };
  }

  /** Every operation kept, newest first. */
  list(): OperationInfo[] {
    return [...this.all.values()].map((entry) => ({ ...entry.info })).reverse();
  }

  /** Resolves with the operation once it has ended; `onProgress` hears each step until then. */
  async wait(id: string, onProgress?: Listener): Promise<OperationInfo> {
    const entry = this.entry(id);
    if (onProgress && entry.info.state === 'running') entry.listeners.add(onProgress);
    await entry.done;
    return { ...entry.info };
  }

  private entry(id: string) {
    const entry = this.all.get(id);
    if (!entry)
      throw new SundialError('SUNDIAL_NO_OPERATION', `No operation ${JSON.stringify(id)} in this process`);
    return entry;
  }

  private forgetOldest(): void {
    const finished = [...this.all.values()].filter((entry) => entry.info.state !== 'running');
    for (const entry of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED)))
      this.all.delete(entry.info.id);
  }
}
