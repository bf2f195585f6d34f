import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.ts';
import { tempDir } from '../helpers.ts';
import { describeStoreConformance } from './store-conformance.ts';

describeStoreConformance('sqlite', async () => {
  const dir = tempDir();
  const store = new SqliteStore({ path: join(dir.path, 'conformance.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      dir.cleanup();
    },
  };
});
