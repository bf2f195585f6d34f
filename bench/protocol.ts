/**
 * What the bench (parent) and a worker process (child) say to each other over the IPC channel.
 * Shared by both sides, and by the peers' worker process in bench/compare, so a renamed field breaks
 * the type check rather than a run.
 */
import type { StoreSpec } from './stores.ts';

/** How the child's worker behaves; passed as JSON in argv[2]. */
export type WorkerConfig =
  /** Runs `noop` jobs until `expected` have completed, then reports. */
  | {
      mode: 'drain';
      store: StoreSpec;
      queue: string;
      concurrency: number;
      prefetch: number;
      expected: number;
    }
  /** Runs `timed` jobs, recording in the handler how long after its `sentAt` each one started. */
  | { mode: 'latency'; store: StoreSpec; queue: string; concurrency: number; expected: number }
  /** Starts a worker on an empty queue, waits `idleMs`, reports its resident set size. */
  | { mode: 'idle'; store: StoreSpec; queue: string; concurrency: number; idleMs: number };

/**
 * The same `drain` and `latency` work for one of the peers in bench/compare, on the PostgreSQL schema
 * or Redis key prefix `namespace` at `url`.
 */
export interface PeerWorkerConfig {
  mode: 'drain' | 'latency';
  peer: string;
  url: string;
  namespace: string;
  queue: string;
  concurrency: number;
  expected: number;
}

/** Payload of a `timed` job: when the producer sent it, in epoch ms with sub-ms precision. */
export interface TimedPayload {
  sentAt: number;
}

export type ParentMessage =
  | { type: 'start' }
  /** Asks for the child's clock, to measure how far the two processes' clocks disagree. */
  | { type: 'ping'; id: number }
  | { type: 'stop' };

export type ChildMessage =
  /** Store open and migrated: what follows `start` is only the work being measured. */
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'pong'; id: number; now: number }
  /** `latencies` (ms, child clock minus `sentAt`) is empty in `drain` mode. */
  | { type: 'done'; completed: number; latencies: number[] }
  | { type: 'rss'; bytes: number }
  | { type: 'error'; message: string };

export type ChildMessageType = ChildMessage['type'];

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one host. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
