/**
 * Writes the schema the SQLite migrations produce to `src/store/sqlite/schema.sql`, so a reviewer
 * can read the whole schema in one place. `test/schema.test.ts` fails when the two disagree.
 * Run: npm run schema:dump
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sqliteSchema } from '../src/store/sqlite/schema-dump.ts';

const target = fileURLToPath(new URL('../src/store/sqlite/schema.sql', import.meta.url));
writeFileSync(target, sqliteSchema());
console.log(`wrote ${target}`);
