import type { Cluster, Redis } from 'ioredis';
import { describeThrown, StoreUnavailableError } from '../../core/index.ts';

/**
 * How long a call waits for a connection that is being made again before it gives up, until the
 * store has reached Redis once. ioredis waits up to 2 s between attempts by default, so one more
 * attempt fits in this.
 */
const RECONNECT_WAIT_MS = 3000;

/**
 * The first connection, made to fail fast. ioredis keeps a command waiting while it reconnects, for
 * up to 20 attempts (over a minute) before it says "max retries per request", and names no host. A
 * store that has never reached its server is more likely misconfigured than riding out an outage:
 * until it has connected once, a call that cannot connect fails at once with the address in its
 * message. Afterwards outages are ridden through as ioredis does (commands wait and are resent).
 */
export class FirstConnection {
  private reached = false;
  private lastError: unknown = null;
  private readonly client: Redis | Cluster;
  private readonly address: string;

  constructor(client: Redis | Cluster, address: string) {
    this.client = client;
    this.address = address;
    client.on('error', (error: unknown) => {
      this.lastError = error;
    });
  }

  /** Resolves once connected (at once after the first time); rejects with the address if not. */
  async reach(): Promise<void> {
    if (this.reached) return;
    if (this.client.status !== 'ready') {
      try {
        if (this.client.status === 'wait') await this.client.connect();
        else await untilReady(this.client, RECONNECT_WAIT_MS);
      } catch (error) {
        const cause = this.lastError ?? error;
        throw new StoreUnavailableError(
          new Error(`cannot connect to Redis at ${this.address} (${describeThrown(cause).message})`),
        );
      }
    }
    this.reached = true;
  }
}

function untilReady(client: Redis | Cluster, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: unknown) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = () => done();
    const onError = (error: unknown) => done(error);
    const onEnd = () => done(new Error('the connection was closed'));
    const timer = setTimeout(() => done(new Error(`no connection within ${ms} ms`)), ms);
    client.once('ready', onReady);
    client.once('error', onError);
    client.once('end', onEnd);
  });
}
