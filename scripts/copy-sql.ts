/**
 * Copies the PostgreSQL migrations (`.sql` files, which tsc does not emit) into `dist/`, beside the
 * compiled store that reads them at run time. The folder is emptied first: a migration renamed or
 * removed in `src/` must not linger in `dist/` as a second file with its number.
 */
import { cpSync, rmSync } from 'node:fs';

const TARGET = 'dist/store/postgres/migrations';

rmSync(TARGET, { recursive: true, force: true });
cpSync('src/store/postgres/migrations', TARGET, {
  recursive: true,
  filter: (source) => !source.includes('.') || source.endsWith('.sql'),
});
