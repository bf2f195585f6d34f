import type pg from 'pg';
import { pgDriver } from '../drivers.ts';

/**
 * One connection per store that LISTENs on the schema's channel and hands each notification's
 * payload (a queue or channel name, `*` for every queue) to the store. When the connection drops
 * it connects again with a growing pause, listens again and reports `null`: notifications sent
 * while it was away are lost, so everyone should look again.
 *
 * It also listens on a channel of its own connection, `sundial_hand_<backend pid>`, for the jobs
 * adds hand to this process's workers (see `PgHandoff`), and holds an advisory lock keyed by the
 * pid for as long as the connection lives, which tells an add that the listener is still there
 * (see `HANDOFF_LOCK_CLASS`).
 */
export class PgWakeListener {
  private client: pg.Client | null = null;
  private running = false;
  private retryMs = RETRY_MS.first;
  private timer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  private readonly config: pg.ClientConfig;
  private readonly channel: string;
  private readonly onNotify: (name: string | null) => void;
  private readonly onError: (error: unknown) => void;
  /** Whether it takes part in direct handoff: its own channel and the lock that says it lives. */
  private readonly handoff: boolean;
  /** Called with the payload of each notification on the connection's own handoff channel. */
  onHanded: (payload: string) => void = () => {};
  /** The backend pid of the live connection; null while there is none. */
  pid: number | null = null;

  constructor(
    config: pg.ClientConfig,
    channel: string,
    onNotify: (name: string | null) => void,
    onError: (error: unknown) => void,
    handoff: boolean,
  ) {
    this.handoff = handoff;
    this.config = config;
    this.channel = channel;
    this.onNotify = onNotify;
    this.onError = onError;
  }

  /** Starts listening (once); safe to call again. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connecting = this.connect(false);
  }

  /** Resolves once the first LISTEN is in place (or failed): tests and start-up can wait for it. */
  async listening(): Promise<void> {
    await this.connecting;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(again: boolean): Promise<void> {
    const client = new (pgDriver().Client)(this.config);
    let pid: number | null = null;
    let handChannel = '';
    client.on('notification', (message) => {
      if (message.channel === handChannel) this.onHanded(message.payload ?? '');
      else this.onNotify(message.payload ?? '*');
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      if (this.handoff) {
        // The lock says, to an add, that this connection is still there (see HANDOFF_LOCK_CLASS).
        const { rows } = await client.query<{ pid: number }>(
          `SELECT pg_backend_pid() AS pid, pg_advisory_lock(${HANDOFF_LOCK_CLASS}, pg_backend_pid())`,
        );
        pid = rows[0]!.pid;
        handChannel = handoffChannel(pid);
        await client.query(`LISTEN "${this.channel}"; LISTEN "${handChannel}"`);
      } else {
        await client.query(`LISTEN "${this.channel}"`);
      }
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      this.lost(client, error);
      return;
    }
    if (!this.running) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.pid = pid;
    this.retryMs = RETRY_MS.first;
    if (again) this.onNotify(null);
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return; // an old connection's late news
    this.client = null;
    this.pid = null;
    if (!this.running || this.timer) return;
    if (error) this.onError(error);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) this.connecting = this.connect(true);
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MS.last);
  }
}

const RETRY_MS = { first: 100, last: 5000 };

/** The channel on which the listener with this backend pid hears the jobs handed to its workers. */
function handoffChannel(pid: number): string {
  return `${HANDOFF_CHANNEL_PREFIX}${pid}`;
}

/** What the handoff channels start with; the add statement builds them in SQL from it. */
export const HANDOFF_CHANNEL_PREFIX = 'sundial_hand_';

/**
 * The first key of the advisory lock a listener holds for as long as its connection lives (the
 * second is its backend pid): an add hands a job under an offer only while the lock is held, which
 * it tells with `pg_try_advisory_xact_lock_shared` failing. That costs the lock manager a lookup,
 * where asking `pg_stat_get_activity` for the pid read every backend's status on every add.
 */
export const HANDOFF_LOCK_CLASS = 1398099524; // 'SUND'
