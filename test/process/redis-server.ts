import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/**
 * A redis-server started with `args`, once it answers on `port`; null when the port was taken (a
 * free port can be taken by another test file's server before ours binds it: then ours exits, or
 * the server that answers is not ours).
 */
export async function startRedisServer(args: string[], port: number): Promise<ChildProcess | null> {
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  for (let tries = 0; tries < 200; tries++) {
    if (server.exitCode !== null || server.signalCode !== null) return null;
    try {
      // Ours, not another test's server that took the port first.
      const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'server']);
      if (new RegExp(`process_id:${server.pid}\\b`).test(stdout)) return server;
      server.kill('SIGKILL');
      return null;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  server.kill('SIGKILL');
  return null;
}
