import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

/**
 * The layering rules `npm run lint` checks (.dependency-cruiser.cjs), tried on a small project of
 * the same shape: a wrong import is an error, a right one is not.
 */
describe('layering rules', () => {
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
    copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir.path, '.dependency-cruiser.cjs'));
    writeFileSync(
      join(dir.path, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { allowImportingTsExtensions: true, noEmit: true, module: 'nodenext' },
      }),
    );
    for (const folder of ['core', 'store', 'queue', 'worker', 'admin', 'cli']) {
      mkdirSync(join(dir.path, 'src', folder), { recursive: true });
      writeFileSync(join(dir.path, 'src', folder, 'index.ts'), 'export const here = 1;\n');
    }
  });
  afterEach(() => dir.cleanup());

  function cruise() {
    const result = spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs'], {
      cwd: dir.path,
      encoding: 'utf8',
    });
    return { code: result.status, output: result.stdout + result.stderr };
  }

  it('lets a folder import the folders below it', () => {
    writeFileSync(
      join(dir.path, 'src', 'queue', 'a.ts'),
      "import { here } from '../store/index.ts';\nexport { here };\n",
    );
    writeFileSync(
      join(dir.path, 'src', 'cli', 'a.ts'),
      "import { here } from '../admin/index.ts';\nexport { here };\n",
    );
    expect(cruise()).toMatchObject({ code: 0 });
  });

  it('fails on an import upwards, a type import included', () => {
    writeFileSync(
      join(dir.path, 'src', 'core', 'a.ts'),
      "import type { here } from '../store/index.ts';\nexport type X = typeof here;\n",
    );
    writeFileSync(
      join(dir.path, 'src', 'store', 'a.ts'),
      "import { here } from '../worker/index.ts';\nexport { here };\n",
    );
    writeFileSync(
      join(dir.path, 'src', 'admin', 'a.ts'),
      "import { here } from '../cli/index.ts';\nexport { here };\n",
    );
    const { code, output } = cruise();
    expect(code).not.toBe(0);
    expect(output).toContain('core-imports-only-itself: src/core/a.ts → src/store/index.ts');
    expect(output).toContain('store-imports-only-core: src/store/a.ts → src/worker/index.ts');
    expect(output).toContain('admin-does-not-import-server-cli: src/admin/a.ts → src/cli/index.ts');
  });
});
