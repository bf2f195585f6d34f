import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { POSTGRES_URL, REDIS_URL } from '../../conformance/servers.ts';
import { tempDir } from '../../helpers.ts';
import { dropNamespace } from '../../process/children.ts';

/**
 * An app on a Node.js older than 22.13 (here the machine's own Node 20, past its end of life) that
 * uses PostgreSQL or Redis imports Sundial and works; the SQLite store, which needs the built-in
 * `node:sqlite`, refuses with a message naming the version it needs.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'src/cli/main.ts');

/** The first `node` on the PATH older than 22.13, other than the one running the tests. */
function oldNode(): string | null {
  const found = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const path of found) {
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
    if (major! < 22 || (major === 22 && minor! < 13)) return path;
  }
  return null;
}

const node = oldNode();
if (!node && process.env.CI === 'true') {
  it('finds a Node.js older than 22.13 on the machine', () => {
    throw new Error('No Node.js older than 22.13 on the PATH; the machine is meant to have Node 20');
  });
}

describe.runIf(node)('Sundial on a Node.js without node:sqlite', () => {
  const run = (script: string) => {
    // tsx loads the TypeScript sources on a Node that cannot strip types itself.
    const output = execFileSync(node!, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return JSON.parse(output.trim().split('\n').at(-1)!);
  };

  it('adds and reads jobs on PostgreSQL and Redis, and the SQLite store refuses by name', async () => {
    const namespace = `sundial_oldnode_${randomBytes(4).toString('hex')}`;
    try {
      const result = run(`
        import * as sundial from './src/index.ts';
        const stores = {
          postgres: new sundial.PostgresStore({ connectionString: ${JSON.stringify(POSTGRES_URL)}, schema: ${JSON.stringify(namespace)} }),
          redis: new sundial.RedisStore({ url: ${JSON.stringify(REDIS_URL)}, prefix: ${JSON.stringify(namespace)}, onError() {} }),
        };
        const out = { node: process.versions.node };
        for (const [engine, store] of Object.entries(stores)) {
          const app = sundial.createSundial({ store });
          const job = await app.queue('q').add('hello', { n: 1 });
          out[engine] = (await app.queue('q').getJob(job.id)).payload;
          await app.close();
        }
        try { sundial.createSundial(); } catch (error) { out.sqlite = { code: error.code, message: error.message }; }
        console.log(JSON.stringify(out));
      `);
      expect(Number(result.node.split('.')[0])).toBeLessThan(22);
      expect(result.postgres).toEqual({ n: 1 });
      expect(result.redis).toEqual({ n: 1 });
      expect(result.sqlite.code).toBe('SUNDIAL_NODE_TOO_OLD');
      expect(result.sqlite.message).toContain('needs Node.js 22.13 or newer');
      expect(result.sqlite.message).toContain(`this is Node.js ${result.node}`);
    } finally {
      await dropNamespace('postgres', { SUNDIAL_URL: POSTGRES_URL, SUNDIAL_NAMESPACE: namespace });
      await dropNamespace('redis', { SUNDIAL_URL: REDIS_URL, SUNDIAL_NAMESPACE: namespace });
    }
  });

  it('runs the CLI on a PostgreSQL config, and says what Node.js the SQLite default needs', async () => {
    const dir = tempDir();
    const namespace = `sundial_oldnode_${randomBytes(4).toString('hex')}`;
    writeFileSync(
      join(dir.path, 'sundial.config.mjs'),
      `import { PostgresStore } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
export default { store: new PostgresStore({ connectionString: ${JSON.stringify(POSTGRES_URL)}, schema: ${JSON.stringify(namespace)} }) };`,
    );
    const cli = (cwd: string, ...args: string[]) =>
      spawnSync(node!, ['--import', join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), CLI, ...args], {
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
      });
    try {
      const queues = cli(dir.path, 'queues', '--json');
      expect(queues.stderr).toBe('');
      expect([queues.status, JSON.parse(queues.stdout)]).toEqual([0, []]);
      writeFileSync(join(dir.path, 'app.db'), '');
      const sqlite = cli(ROOT, 'queues', '--db', join(dir.path, 'app.db'));
      expect(sqlite.status).toBe(1);
      expect(sqlite.stderr.trim()).toMatch(/^sundial: The SQLite store needs Node\.js 22\.13 or newer/);
    } finally {
      dir.cleanup();
      await dropNamespace('postgres', { SUNDIAL_URL: POSTGRES_URL, SUNDIAL_NAMESPACE: namespace });
    }
  });
});
