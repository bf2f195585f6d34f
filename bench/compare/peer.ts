/**
 * What the bench needs from an incumbent job queue to drive it with the same workloads as Sundial.
 * One adapter per peer (bullmq.ts, pg-boss.ts, graphile-worker.ts) implements it.
 *
 * The peers' packages live in bench/compare/node_modules, which the main install never creates, so
 * no file here imports them by name at the top: each adapter loads its package when a run needs it
 * (load.ts) and describes the few calls it makes with its own small types. That keeps `npm run
 * typecheck` and a plain `npm run bench` working on a checkout that never installed the peers.
 */

export type PeerId = 'bullmq' | 'pg-boss' | 'graphile-worker';
export type PeerWorkloadId = 'W1' | 'W2' | 'W3' | 'W4';

/** Where a peer keeps one run's data: a fresh PostgreSQL schema or Redis key prefix on `url`. */
export interface PeerTarget {
  url: string;
  namespace: string;
}

/** The producing side, in the bench's own process (W1, W2, and filling or feeding W3 and W4). */
export interface PeerProducer {
  /** Adds one job and resolves once the peer says it is stored. */
  add(payload: object): Promise<unknown>;
  /** Adds many jobs with the peer's bulk call. */
  addBulk(payloads: readonly object[]): Promise<unknown>;
  /** Jobs stored and not yet finished (waiting, delayed or running). */
  unfinished(): Promise<number>;
  close(): Promise<void>;
}

/** The working side, in a worker process of its own (W3, W4). */
export interface PeerConsumer {
  /** Starts taking jobs; each job's payload goes to the handler given to `consumer()`. */
  start(): Promise<void>;
  /** As `PeerProducer.unfinished`, from the worker's side. */
  unfinished(): Promise<number>;
  close(): Promise<void>;
}

export interface Peer {
  id: PeerId;
  /** As printed, e.g. `BullMQ`. */
  name: string;
  backend: 'postgres' | 'redis';
  /** The packages whose installed versions the results name (the peer and its client). */
  packages: readonly string[];
  /** The settings each workload runs with, printed beside the figures so a reader can judge them. */
  settings: Record<PeerWorkloadId, string>;
  /** Creates the peer's schema or keys in `target` (untimed) and opens a producer on it. */
  producer(target: PeerTarget): Promise<PeerProducer>;
  /**
   * Opens a consumer on `target` that, once started, runs every job of the bench queue through
   * `handler` with `concurrency` jobs at once, set up for `mode` as `settings` says.
   */
  consumer(
    target: PeerTarget,
    options: { mode: 'drain' | 'latency'; concurrency: number },
    handler: (payload: unknown) => void,
  ): Promise<PeerConsumer>;
}
