/**
 * Copies what tsc does not emit into `dist/`, beside the compiled modules that read it at run time:
 * the PostgreSQL migrations (`.sql`) and the Redis scripts (`.lua`). Each folder is emptied first:
 * a file renamed or removed in `src/` must not linger in `dist/`.
 */
import { cpSync, rmSync } from 'node:fs';

for (const [folder, extension] of [
  ['store/postgres/migrations', '.sql'],
  ['store/redis/lua', '.lua'],
] as const) {
  const target = `dist/${folder}`;
  rmSync(target, { recursive: true, force: true });
  cpSync(`src/${folder}`, target, {
    recursive: true,
    filter: (source) => !source.includes('.') || source.endsWith(extension),
  });
}
