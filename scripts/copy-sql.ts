/**
 * Copies the PostgreSQL migrations (`.sql` files, which tsc does not emit) into `dist/`, beside the
 * compiled store that reads them at run time.
 */
import { cpSync } from 'node:fs';

cpSync('src/store/postgres/migrations', 'dist/store/postgres/migrations', {
  recursive: true,
  filter: (source) => !source.includes('.') || source.endsWith('.sql'),
});
