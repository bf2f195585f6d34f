/**
 * Loads the peers' packages from bench/compare/node_modules, and installs them there on first use.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMPARE_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The one command that installs the peers, for messages. */
export const INSTALL_COMMAND = 'npm install --prefix bench/compare';

/**
 * Imports a peer's package. The name is a variable on purpose: a literal would make the type check
 * need the package, which a checkout without the peers installed does not have. Resolution starts
 * here, in bench/compare, so it finds bench/compare/node_modules and never the main install's.
 */
export async function loadPackage<T>(name: string): Promise<T> {
  return (await import(name)) as T;
}

/** The installed version of a package in bench/compare/node_modules, or null when it is missing. */
export function installedVersion(name: string): string | null {
  // Read by path: some packages' `exports` do not expose their package.json to require.resolve.
  try {
    const file = join(COMPARE_DIR, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

/** The versions bench/compare/package.json pins. */
function pinned(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  return manifest.dependencies;
}

/**
 * Makes sure the pinned peers are installed in bench/compare, installing them from its lock file if
 * not (exact versions in package.json, so two machines compare the same code). `npm install`, not
 * `npm ci`: a registry mirror without the other platforms' optional packages leaves them out of the
 * lock, which `npm ci` then refuses as out of sync. npm's output goes to stderr so the table on
 * stdout stays clean. Throws with the command to run by hand.
 */
export function ensurePeersInstalled(): void {
  const missing = () =>
    Object.entries(pinned()).filter(([name, version]) => installedVersion(name) !== version);
  if (missing().length === 0) return;
  console.error(
    `Installing the peers into bench/compare (${missing()
      .map(([name, version]) => `${name}@${version}`)
      .join(', ')}): ${INSTALL_COMMAND}`,
  );
  // Without the npm_* variables that `npm run bench` set for the main package: they would point this
  // npm at the main package's prefix and settings.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
  const result = spawnSync('npm', ['install', '--prefix', COMPARE_DIR, '--no-audit', '--no-fund'], {
    stdio: ['ignore', process.stderr, process.stderr],
    env,
  });
  const still = missing();
  if (result.status !== 0 || still.length > 0) {
    throw new Error(
      `could not install the peers (${still.map(([name]) => name).join(', ') || `npm exited ${result.status}`}); ` +
        `install them with: ${INSTALL_COMMAND}`,
    );
  }
}
