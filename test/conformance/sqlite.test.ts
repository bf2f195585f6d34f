import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.ts';
import { tempDir } from '../helpers.ts';
import { describeSearchConformance } from './search-conformance.ts';
import { describeStoreConformance } from './store-conformance.ts';

const makeHarness = async () => {
  const dir = tempDir();
  const path = join(dir.path, 'conformance.db');
  const store = new SqliteStore({ path });
  const others: SqliteStore[] = [];
  return {
    store,
    connect: async () => {
      const other = new SqliteStore({ path });
      others.push(other);
      await other.init();
      return other;
    },
    cleanup: async () => {
      await Promise.all([store, ...others].map((s) => s.close()));
      dir.cleanup();
    },
  };
};

describeStoreConformance('sqlite', makeHarness);
describeSearchConformance('sqlite', makeHarness);
