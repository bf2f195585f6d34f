import type { Cluster, Redis } from 'ioredis';
import type { JobQueues } from './cluster.ts';
import type { ScriptName } from './scripts.ts';

/**
 * What the Redis engine's role modules (management.ts, schedules.ts, locks.ts) share with the store
 * that holds the connections: its key prefix, its client, and how it runs scripts and commands
 * (each opening the store first, and failing with `StoreUnavailableError` on connection trouble).
 */
export interface RedisContext {
  readonly prefix: string;
  /** The base of the global keys (`{prefix}`). */
  readonly global: string;
  readonly client: Redis | Cluster;
  /** On a Cluster: see cluster.ts for how its changes differ. */
  readonly onCluster: boolean;
  /** On a Cluster, where the jobs are that this instance works on by id. */
  readonly jobQueues: JobQueues;
  /** Runs a script as this store instance (see `RedisStore.run`). */
  run(name: ScriptName, base: string, args: string[]): Promise<unknown>;
  /** A command of the open store. */
  command<T>(work: () => Promise<T>): Promise<T>;
  /** Refuses when the store is closed. */
  check(): void;
}
