import type pg from 'pg';
import { StoreUnavailableError } from '../../core/index.ts';
import { unavailableOr } from './errors.ts';

/**
 * Runs `work` in a transaction on one connection. A deadlock or serialization failure (two
 * transactions touching the same rows in another order) is retried from the start.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw unavailableOr(error);
    }
    // A connection that drops between this transaction's statements reports it here, not as an
    // uncaught error; the statement under way fails and the connection is thrown away.
    let broken: unknown = null;
    const onError = (error: unknown) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      const failure = unavailableOr(error);
      if (failure instanceof StoreUnavailableError) broken ??= error;
      else await client.query('ROLLBACK').catch(() => {});
      const code = (error as { code?: string }).code;
      if (attempt < 5 && (code === '40P01' || code === '40001')) continue;
      throw failure;
    } finally {
      client.off('error', onError);
      client.release(broken ? (broken as Error) : undefined);
    }
  }
}
