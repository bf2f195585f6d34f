import { connect } from 'node:net';
import { it } from 'vitest';

/** Where the engine tests find their servers (the variables, localhost by default). */
export const POSTGRES_URL = process.env.SUNDIAL_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const REDIS_URL = process.env.SUNDIAL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether something accepts connections at the URL's host and port (within a second). */
export function answers(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || defaultPort) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether to run an engine's tests: yes when its server answers. When it does not, the tests are
 * skipped on a developer's machine, but under `CI=true` a test fails in their place: CI starts the
 * servers, so a silent one is a broken setup, not a reason to test less.
 */
export async function engineUnderTest(engine: string, url: string, defaultPort: number): Promise<boolean> {
  if (await answers(url, defaultPort)) return true;
  if (process.env.CI === 'true') {
    it(`${engine} answers at ${url}`, () => {
      throw new Error(`${engine} is not answering at ${url}; CI must start it (.ci/services.sh)`);
    });
  }
  return false;
}
