import type { Cluster, Redis } from 'ioredis';
import { Listeners, type WakeTarget } from '../listeners.ts';
import { wakeChannel } from './keys.ts';

/**
 * The listeners of `subscribe`, woken through Redis pub/sub. Scripts PUBLISH on `P:wake:<name>` in
 * the same atomic step as the change (see scripts.ts), so a process that adds jobs wakes the workers
 * of every other process; one connection, subscribed to the pattern `P:wake:*`, hears them all. A
 * message carries the id of the store instance that sent it: that instance already woke its own
 * listeners directly when its script returned, and skips the echo.
 *
 * One pattern for everything, rather than a channel per queue subscribed on demand: `init()` waits
 * for it, so from then on nothing published can slip past between a `subscribe()` call and a
 * SUBSCRIBE reaching the server (a cancel sent in that gap would be missed for good). The price is
 * that every process hears every queue's wake-ups, a few bytes each, and drops those nobody here
 * listens to.
 *
 * Nothing is polled. What could still go unheard is covered where it can happen: queue listeners
 * added before the pattern was live are woken once it is, and every listener is woken after the
 * connection comes back (ioredis reconnects and resubscribes; what was published meanwhile is gone).
 */
export class Wakeups {
  private readonly listeners: Listeners;
  private readonly connection: Redis | Cluster;
  private readonly pattern: string;
  private readonly channelStart: string;
  private readonly origin: string;
  private readonly onError: (error: unknown) => void;
  private starting: Promise<void> | null = null;
  private connectedBefore = false;
  private closed = false;

  constructor(
    connection: Redis | Cluster,
    prefix: string,
    origin: string,
    onError: (error: unknown) => void,
  ) {
    this.connection = connection;
    this.channelStart = wakeChannel(prefix, '');
    // The prefix holds no glob characters (the store's options check), so it matches itself.
    this.pattern = `${this.channelStart}*`;
    this.origin = origin;
    this.onError = onError;
    this.listeners = new Listeners(onError);
    connection.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (message === this.origin || !channel.startsWith(this.channelStart)) return;
      this.wakeLocal([channel.slice(this.channelStart.length)]);
    });
    connection.on('ready', () => {
      if (this.connectedBefore) void this.resume();
      this.connectedBefore = true;
    });
  }

  /** Subscribes to the pattern (once); resolves when the server confirmed it. */
  start(): Promise<void> {
    this.starting ??= this.connection.psubscribe(this.pattern).then(
      () => this.wakeLocal('queues'), // queue listeners added before now may have missed jobs
      (error: unknown) => {
        this.starting = null; // the next subscribe() or init() tries again
        throw error;
      },
    );
    return this.starting;
  }

  subscribe(name: string, listener: () => void): () => void {
    const remove = this.listeners.add(name, listener);
    if (!this.starting && !this.closed) {
      this.start().catch((error: unknown) => {
        if (!this.closed) this.onError(error);
      });
    }
    return remove;
  }

  /** Calls this process's listeners (see `Listeners.wake`). */
  wakeLocal(target: WakeTarget): void {
    this.listeners.wake(target);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /**
   * After a reconnect: subscribe again (ioredis resubscribed already; waiting for our own
   * PSUBSCRIBE proves the subscription is live), then wake everyone, channels too, for what went
   * unheard while the connection was down.
   */
  private async resume(): Promise<void> {
    if (this.closed || !this.starting) return;
    try {
      await this.connection.psubscribe(this.pattern);
    } catch (error) {
      if (!this.closed) this.onError(error);
      return;
    }
    this.wakeLocal('everything');
  }
}
