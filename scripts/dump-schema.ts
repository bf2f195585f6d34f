/**
 * Writes the schemas the migrations produce to `src/store/sqlite/schema.sql` and
 * `src/store/postgres/schema.sql`, so a reviewer can read each whole schema in one place.
 * `test/schema.test.ts` fails when a dump and its migrations disagree.
 * Run: npm run schema:dump   (PostgreSQL from SUNDIAL_TEST_POSTGRES_URL, default localhost)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { postgresSchema } from '../src/store/postgres/schema-dump.ts';
import { sqliteSchema } from '../src/store/sqlite/schema-dump.ts';

const sqlite = fileURLToPath(new URL('../src/store/sqlite/schema.sql', import.meta.url));
writeFileSync(sqlite, sqliteSchema());
console.log(`wrote ${sqlite}`);

const postgres = fileURLToPath(new URL('../src/store/postgres/schema.sql', import.meta.url));
const url = process.env.SUNDIAL_TEST_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';
writeFileSync(postgres, await postgresSchema(url));
console.log(`wrote ${postgres}`);
