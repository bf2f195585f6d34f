import { describe, expect, it } from 'vitest';
import {
  createSundial,
  PostgresStore,
  RedisStore,
  type Store,
  StoreUnavailableError,
} from '../../src/index.ts';
import { freePort } from '../process/free-port.ts';
import { startPrivateRedis } from '../process/private-redis.ts';

/**
 * A store that has never reached its server fails its first call at once, naming where it looked
 * (a misconfigured address is far likelier than an outage at start), rather than waiting out a
 * minute of reconnects. Each test has a deadline well under that minute.
 */
describe('the first connection to a server that does not answer', () => {
  async function refusal(store: Store): Promise<StoreUnavailableError> {
    const sundial = createSundial({ store });
    try {
      const error = await sundial
        .queue('q')
        .add('hello')
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(StoreUnavailableError);
      return error as StoreUnavailableError;
    } finally {
      await sundial.close();
    }
  }

  it('fails at once on Redis with the host and port, and works once the server is there', {
    timeout: 20_000,
  }, async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, onError() {} });
    const sundial = createSundial({ store });
    try {
      const error = await sundial
        .queue('q')
        .add('hello')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain(`cannot connect to Redis at 127.0.0.1:${port}`);
      expect((error as Error).message).toContain('ECONNREFUSED');
      // A second call fails the same way, as fast.
      expect(
        await sundial
          .queue('q')
          .add('hello')
          .catch((e: unknown) => e),
      ).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await sundial.close();
    }
    // The same address once a server answers there: the store reaches it.
    const redis = await startPrivateRedis();
    try {
      const later = createSundial({ store: new RedisStore({ url: redis.url, onError() {} }) });
      const job = await later.queue('q').add('hello');
      expect((await later.queue('q').getJob(job.id))?.name).toBe('hello');
      await later.close();
    } finally {
      redis.stop();
    }
  });

  it('fails at once on a Redis Cluster whose nodes do not answer, naming them', {
    timeout: 20_000,
  }, async () => {
    const [a, b] = [await freePort(), await freePort()];
    const error = await refusal(
      new RedisStore({ cluster: [`redis://127.0.0.1:${a}`, `redis://127.0.0.1:${b}`], onError() {} }),
    );
    expect(error.message).toContain(`cannot connect to Redis at 127.0.0.1:${a}, 127.0.0.1:${b}`);
  });

  it('fails at once on PostgreSQL with the host and port', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const error = await refusal(
      new PostgresStore({ connectionString: `postgres://root@127.0.0.1:${port}/test` }),
    );
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });
});
