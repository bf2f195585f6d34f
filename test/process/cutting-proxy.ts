import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, that can lose one reply on cue: armed with a test
 * on what a client sends, it forwards the matching request, then, when the server's first answer
 * to it comes back, drops that connection instead of forwarding it. The request was carried out;
 * the client never hears so. Every other connection and message passes through untouched.
 */
export interface CuttingProxy {
  readonly port: number;
  /** Resolves once a request matching `matches` was sent and its connection cut at the reply. */
  cutReplyTo(matches: (request: Buffer) => boolean): Promise<void>;
  /**
   * Resolves once the server sent something matching `matches` (a notification, a published
   * message) and its connection was cut instead of passing it on.
   */
  cutWhenServerSends(matches: (message: Buffer) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  let armed: { matches: (request: Buffer) => boolean; cut: () => void } | null = null;
  let armedForServer: { matches: (message: Buffer) => boolean; cut: () => void } | null = null;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let cutAtReply: (() => void) | null = null;
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (request: Buffer) => {
      if (armed?.matches(request)) {
        cutAtReply = armed.cut;
        armed = null;
      }
      upstream.write(request);
    });
    upstream.on('data', (reply: Buffer) => {
      if (armedForServer?.matches(reply)) {
        const { cut } = armedForServer;
        armedForServer = null;
        drop();
        cut();
        return;
      }
      if (cutAtReply) {
        const cut = cutAtReply;
        cutAtReply = null;
        drop();
        cut();
        return;
      }
      client.write(reply);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', () => {
        sockets.delete(socket);
        drop();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    port: address.port,
    cutReplyTo: (matches) =>
      new Promise<void>((resolve) => {
        armed = { matches, cut: resolve };
      }),
    cutWhenServerSends: (matches) =>
      new Promise<void>((resolve) => {
        armedForServer = { matches, cut: resolve };
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
