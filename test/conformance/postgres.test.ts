import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/index.ts';
import { engineUnderTest, POSTGRES_URL } from './servers.ts';
import { describeStoreConformance } from './store-conformance.ts';

if (await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432)) {
  describeStoreConformance('postgres', async () => {
    // A schema of its own per test: tests never see each other's rows, and dropping it cleans up.
    const schema = `sundial_test_${randomBytes(6).toString('hex')}`;
    const stores: PostgresStore[] = [];
    const open = async () => {
      const store = new PostgresStore({ connectionString: POSTGRES_URL, schema, poolSize: 4 });
      stores.push(store);
      await store.init();
      return store;
    };
    const store = new PostgresStore({ connectionString: POSTGRES_URL, schema, poolSize: 4 });
    stores.push(store);
    return {
      store,
      connect: open,
      cleanup: async () => {
        await Promise.all(stores.map((s) => s.close()));
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      },
    };
  });
}
