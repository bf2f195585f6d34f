import type { Redis } from 'ioredis';
import type { Job } from '../../core/index.ts';
import type { Handoff } from '../store.ts';
import { type FlatHash, jobFromHash } from './jobs.ts';
import { handChannel } from './keys.ts';
import type { ScriptRunner } from './runner.ts';

/**
 * Direct handoff on a single Redis (see `Handoff` in store.ts; the scripts' side is `handOff` in
 * scripts.ts). Each receiving worker subscribes to its own channel `P:hand:<owner>` on the store's
 * wake-up connection; an add script checks that someone listens there (PUBSUB NUMSUB) before it
 * claims a job for that worker, so a worker whose process died, whose subscription Redis dropped
 * with its connection, is handed nothing. What is published while the connection is down is lost:
 * those jobs are orphans, recovered by their owner (or after their lease by anyone).
 *
 * Not on a Cluster: there classic pub/sub reaches every node and PUBLISH counts only the listeners
 * of the node it ran on, so a script could not tell whether the worker still listens.
 */
export class RedisHandoff implements Handoff {
  private readonly connection: Redis;
  private readonly runner: ScriptRunner;
  private readonly onError: (error: unknown) => void;
  /** Channel -> the receiver's delivery. */
  private readonly receivers = new Map<string, (jobs: Job[]) => void>();

  constructor(connection: Redis, runner: ScriptRunner, onError: (error: unknown) => void) {
    this.connection = connection;
    this.runner = runner;
    this.onError = onError;
    connection.on('message', (channel: string, message: string) => {
      const deliver = this.receivers.get(channel);
      if (!deliver) return;
      try {
        deliver((JSON.parse(message) as FlatHash[]).map(jobFromHash));
      } catch (error) {
        onError(error);
      }
    });
  }

  async receive(owner: string, deliver: (jobs: Job[]) => void): Promise<() => Promise<void>> {
    const channel = handChannel(this.runner.prefix, owner);
    this.receivers.set(channel, deliver);
    try {
      await this.connection.subscribe(channel);
    } catch (error) {
      this.receivers.delete(channel);
      throw error;
    }
    return async () => {
      this.receivers.delete(channel);
      // Once unsubscribed, adds see nobody listening on the channel and hand it nothing more.
      await this.connection.unsubscribe(channel).catch(this.onError);
    };
  }
}
