import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { run, startRedisServer } from './redis-server.ts';

/**
 * A Redis Cluster of the test's own: `primaries` redis-server processes on free loopback ports (each
 * with its cluster bus on another free port), the 16,384 slots split between them by
 * `redis-cli --cluster create`. Without `aof` nothing is kept on disk beyond the nodes' cluster
 * files; with it every write is fsynced to an AOF, so `restart` (every node stopped cleanly and
 * started again on the same ports) keeps the data.
 */
export interface PrivateRedisCluster {
  /** `redis://127.0.0.1:<port>` of every node. */
  urls: string[];
  restart(): Promise<void>;
  stop(): void;
}

export async function startRedisCluster(primaries = 3, { aof = false } = {}): Promise<PrivateRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-redis-cluster-'));
  let servers: ChildProcess[] = [];
  const commands: string[][] = [];
  const ports: number[] = [];
  const stop = () => {
    for (const server of servers) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const nodeArgs = (port: number, busPort: number) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--dir',
    dir,
    '--save',
    '',
    '--appendfilename',
    `appendonly-${port}.aof`,
    '--appenddirname',
    `aof-${port}`,
    ...persistence,
  ];
  try {
    for (let i = 0; i < primaries; i++) {
      // A free port can be taken by another test file's server before ours binds it: then that
      // server exits, and the node starts again on other ports.
      for (let attempt = 1; ; attempt++) {
        const port = await freePort();
        // Its own bus port: the default (port + 10,000) may be taken, or above 65,535.
        const args = nodeArgs(port, await freePort());
        const server = await startRedisServer(args, port);
        if (server) {
          servers.push(server);
          commands.push(args);
          ports.push(port);
          break;
        }
        if (attempt === 5) throw new Error(`redis-server did not start on port ${port} (5 tries)`);
      }
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) await untilClusterOk(port);
    const restart = async () => {
      const running = servers;
      await Promise.all(
        running.map(async (server) => {
          if (server.exitCode !== null) return;
          const exited = new Promise((resolve) => server.once('exit', resolve));
          server.kill('SIGTERM'); // a clean shutdown: the AOF and the cluster file are complete
          await exited;
        }),
      );
      servers = [];
      for (const [i, port] of ports.entries()) {
        const server = await startRedisServer(commands[i]!, port);
        if (!server) throw new Error(`redis-server did not start again on port ${port}`);
        servers.push(server);
      }
      for (const port of ports) await untilClusterOk(port);
    };
    return { urls: ports.map((port) => `redis://127.0.0.1:${port}`), restart, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/** Every node must see every slot served before a client is let loose on it. */
async function untilClusterOk(port: number): Promise<void> {
  const node = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  try {
    for (let tries = 0; tries < 200; tries++) {
      const info = (await node.cluster('INFO')) as string;
      if (/cluster_state:ok/.test(info)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the cluster node on port ${port} never reported cluster_state:ok`);
  } finally {
    node.disconnect();
  }
}
