/**
 * What the soak (parent) and its producer and worker processes say to each other over the IPC
 * channel; shared by all three, so a renamed field breaks the type check rather than a run.
 */
import type { StoreSpec } from '../stores.ts';

export const SOAK_QUEUE = 'soak';
export const SOAK_JOB = 'soak';

export interface ProducerConfig {
  role: 'producer';
  store: StoreSpec;
  /** Jobs per second to start with (`rate` messages change it). */
  rate: number;
}

export interface WorkerConfig {
  role: 'worker';
  store: StoreSpec;
  concurrency: number;
  /** How long each handler waits before it returns. */
  handlerMs: number;
}

export type ParentMessage =
  | { type: 'start' }
  /** The producer's new rate (jobs per second), in `--max` mode. */
  | { type: 'rate'; perSecond: number }
  /** Asks for a `sample`: what happened since the previous one. */
  | { type: 'sample' }
  /** The producer stops adding, waits for its adds under way, answers `stopped`; the worker closes. */
  | { type: 'stop' };

/** Add latencies of one window, in ms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** A process's own figures, in every sample. */
export interface ProcessFigures {
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU time (user + system) since the previous sample, ms. */
  cpuMs: number;
}

export interface ProducerSample extends ProcessFigures {
  type: 'sample';
  role: 'producer';
  /** Totals since the start: adds issued, resolved, rejected. */
  issued: number;
  added: number;
  failed: number;
  inFlight: number;
  latency: LatencySummary | null;
  /**
   * The longest the producer's loop went between two turns in the window (ms): past a few ms its
   * adds were issued late, in a burst, to catch up with the schedule.
   */
  maxGapMs: number;
  lastError: string | null;
}

export interface WorkerSample extends ProcessFigures {
  type: 'sample';
  role: 'worker';
  /** Totals since the start, counted at the `job.completed` / `job.failed` events. */
  completed: number;
  failed: number;
  storeErrors: number;
  lastError: string | null;
}

export type ChildMessage =
  | { type: 'ready' }
  | ProducerSample
  | WorkerSample
  /** The worker's completions so far, every 100 ms (what `--max` steers by). */
  | { type: 'progress'; completed: number }
  | { type: 'stopped'; issued: number; added: number; failed: number; lastError: string | null }
  | { type: 'fatal'; message: string };
