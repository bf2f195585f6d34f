import type { Cluster, Redis, RedisOptions } from 'ioredis';

/** `host:port` of a URL or of the client options, for messages (never its credentials). */
export function addressOf(url: string | undefined, client: RedisOptions = {}): string {
  if (client.path) return client.path;
  if (client.sentinels) return `the Sentinel master ${client.name ?? '(unnamed)'}`;
  if (url === undefined) return `${client.host ?? '127.0.0.1'}:${client.port ?? 6379}`;
  try {
    const { host, port } = clusterNode(url);
    return `${host}:${port}`;
  } catch {
    return 'the address of its url'; // ioredis reads some URLs that WHATWG's parser does not
  }
}

/** A Cluster node's address from its URL (its credentials go to every node: see `credentials`). */
export function clusterNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  // An IPv6 literal comes bracketed in a URL ([::1]) and must not be in a socket's host.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: parsed.port === '' ? 6379 : Number(parsed.port) };
}

/**
 * The user and password of a Redis URL, and TLS for `rediss:` (unless `client.tls` says how), as
 * connection options. The URL's win over `client`'s, as with `url`.
 */
export function credentials(url: string, connection: RedisOptions): RedisOptions {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' && connection.tls === undefined ? { tls: {} } : {}),
  };
}

/** Says goodbye when connected; otherwise just stops (and stops reconnecting). */
export async function disconnect(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // the connection went away while quitting: nothing left to close politely
    }
  }
  client.disconnect();
}
