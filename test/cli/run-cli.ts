import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `sundial` command's source, run as its own process as a user would run it. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Runs `sundial --db <db> ...args` to its end: exit code, and stdout and stderr trimmed. */
export function cliOn(db: () => string) {
  return (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, '--db', db(), ...args], { encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };
}
