import type pg from 'pg';
import { pgDriver } from '../drivers.ts';

/**
 * One connection per store that LISTENs on the schema's channel and hands each notification's
 * payload (a queue or channel name, `*` for every queue) to the store. When the connection drops
 * it connects again with a growing pause, listens again and reports `null`: notifications sent
 * while it was away are lost, so everyone should look again.
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

  constructor(
    config: pg.ClientConfig,
    channel: string,
    onNotify: (name: string | null) => void,
    onError: (error: unknown) => void,
  ) {
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
    client.on('notification', (message) => this.onNotify(message.payload ?? '*'));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
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
    this.retryMs = RETRY_MS.first;
    if (again) this.onNotify(null);
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== null && this.client !== client) return; // an old connection's late news
    this.client = null;
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
