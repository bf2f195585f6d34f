import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkRegistryCache,
  clearRegistryCache,
  discoverTasks,
  listTaskFiles,
  loadConfig,
  loadTaskFolders,
  optimizeRegistry,
  type RegistryCache,
  registryCachePath,
  scheduleFromConfig,
} from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const SUNDIAL = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A task file: one exported class with one decorated method per id. */
function taskFile(className: string, ...methods: string[]): string {
  const body = methods.map((method) => `  @Scheduled({ every: '1h' }) ${method}() {}`).join('\n');
  return `import { Scheduled } from ${JSON.stringify(SUNDIAL)};\nexport class ${className} {\n${body}\n}\n`;
}

/** A file that leaves a marker behind when it is imported. */
function sideEffectFile(marker: string): string {
  return `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\nexport const helper = 1;\n`;
}

describe('task folder discovery', () => {
  let dir: ReturnType<typeof tempDir>;
  let root: string;

  beforeEach(() => {
    dir = tempDir();
    root = dir.path;
    write(join(root, 'package.json'), '{ "type": "module" }\n');
  });
  afterEach(() => dir.cleanup());

  it('lists script files recursively, leaving out declarations, tests, node_modules and dot-folders', () => {
    for (const file of [
      'src/tasks/a.ts',
      'src/tasks/b.mts',
      'src/tasks/c.js',
      'src/tasks/d.mjs',
      'src/tasks/deep/er/e.ts',
      'src/tasks/types.d.ts',
      'src/tasks/types.d.mts',
      'src/tasks/a.test.ts',
      'src/tasks/b.spec.mjs',
      'src/tasks/data.json',
      'src/tasks/old.cjs',
      'src/tasks/node_modules/pkg/index.js',
      'src/tasks/.cache/f.ts',
      'src/tasks/.hidden.ts',
      'other/g.ts',
      'more/h.ts',
    ]) {
      write(join(root, file), 'export {};\n');
    }
    // A link to a file that was deleted, and one to a folder elsewhere.
    symlinkSync(join(root, 'gone.ts'), join(root, 'src/tasks/dangling.ts'));
    symlinkSync(join(root, 'other'), join(root, 'src/tasks/linked'));
    expect(listTaskFiles(['./src/tasks', 'more'], root)).toEqual(
      [
        'more/h.ts',
        'src/tasks/a.ts',
        'src/tasks/b.mts',
        'src/tasks/c.js',
        'src/tasks/d.mjs',
        'src/tasks/deep/er/e.ts',
        'src/tasks/linked/g.ts',
      ].map((file) => join(root, file)),
    );
  });

  it('refuses a task folder that is missing or is a file, naming it', () => {
    write(join(root, 'file.ts'), 'export {};\n');
    for (const folder of ['./src/missing', 'file.ts']) {
      expect(() => listTaskFiles([folder], root)).toThrow(
        expect.objectContaining({
          code: 'SUNDIAL_NO_TASK_FOLDER',
          message: `No task folder at ${join(root, folder)} (tasks: ${JSON.stringify(folder)} in the config)`,
        }),
      );
    }
  });

  it('finds each task once when task files import each other, and loads CommonJS folders too', async () => {
    write(join(root, 'esm/tasks/a.ts'), `export { B } from './b.ts';\n${taskFile('A', 'one')}`);
    write(join(root, 'esm/tasks/b.ts'), taskFile('B', 'two'));
    const esm = await discoverTasks(listTaskFiles(['esm/tasks'], root), root);
    expect(esm.tasks.map((task) => task.id).sort()).toEqual(['A.one', 'B.two']);
    // No package.json of type module: tsx loads the files as CommonJS.
    const cjs = tempDir();
    try {
      write(join(cjs.path, 'tasks/c.ts'), taskFile('C', 'three', 'four'));
      const found = await discoverTasks(listTaskFiles(['tasks'], cjs.path), cjs.path);
      expect(found.tasks.map((task) => task.id).sort()).toEqual(['C.four', 'C.three']);
    } finally {
      cjs.cleanup();
    }
  });

  it('names the file that cannot be imported', async () => {
    write(join(root, 'tasks/broken.ts'), 'throw new Error("no database here");\n');
    await expect(discoverTasks(listTaskFiles(['tasks'], root), root)).rejects.toMatchObject({
      code: 'SUNDIAL_TASK_FILE',
      message: 'Cannot load task file tasks/broken.ts: no database here',
    });
  });

  it("builds one schedule from the config's schedule function and its task folders, relative to the config", async () => {
    write(join(root, 'app/src/tasks/reports.ts'), taskFile('Reports', 'nightly'));
    write(
      join(root, 'app/sundial.config.ts'),
      `export default {
  tasks: ['./src/tasks'],
  schedule: (schedule: any) => schedule.command('pg_dump').name('backup').dailyAt('02:30'),
};
`,
    );
    const loaded = (await loadConfig('app/sundial.config.ts', root))!;
    const tasks = (await scheduleFromConfig(loaded)).load();
    expect(tasks.map((task) => task.definition.id)).toEqual(['backup', 'Reports.nightly']);

    write(
      join(root, 'app/clash.config.ts'),
      `export default {
  tasks: ['./src/tasks'],
  schedule: (schedule: any) => schedule.command('true').name('Reports.nightly').hourly(),
};
`,
    );
    const clash = await scheduleFromConfig((await loadConfig('app/clash.config.ts', root))!);
    expect(() => clash.load()).toThrow('Two tasks are named "Reports.nightly"');
  });

  it('refuses a tasks config key that is not an array of folders', async () => {
    write(join(root, 'sundial.config.ts'), `export default { tasks: './src/tasks' };\n`);
    await expect(loadConfig(undefined, root)).rejects.toThrow(
      `Invalid tasks: "./src/tasks" (an array of folders, like ['./src/tasks'])`,
    );
  });
});

describe('registry cache (sundial optimize)', () => {
  let dir: ReturnType<typeof tempDir>;
  let root: string;
  let marker: string;
  const folders = ['./src/tasks'];

  beforeEach(() => {
    dir = tempDir();
    root = dir.path;
    marker = join(root, 'helper-was-imported');
    write(join(root, 'package.json'), '{ "type": "module" }\n');
    write(join(root, 'src/tasks/reports.ts'), taskFile('Reports', 'nightly', 'weekly'));
    write(join(root, 'src/tasks/billing/invoices.ts'), taskFile('Invoices', 'send'));
    write(join(root, 'src/tasks/helper.ts'), sideEffectFile(marker));
  });
  afterEach(() => dir.cleanup());

  const load = () => {
    const stale: string[] = [];
    return loadTaskFolders(root, folders, { onStaleCache: (message) => stale.push(message) }).then(
      (result) => ({ ...result, stale, ids: result.tasks.map((task) => task.id).sort() }),
    );
  };

  it('records every candidate file with its size and mtime, and the tasks of those that have some', async () => {
    const summary = await optimizeRegistry(root, folders);
    expect(summary).toEqual({
      path: registryCachePath(root),
      filesScanned: 3,
      filesWithTasks: 2,
      taskCount: 3,
    });
    expect(summary.path).toBe(join(root, '.sundial', 'registry.json'));
    const cache = JSON.parse(readFileSync(summary.path, 'utf8')) as RegistryCache;
    expect(cache).toMatchObject({ version: 1, folders });
    expect(cache.files.map(({ path, tasks }) => ({ path, tasks }))).toEqual([
      { path: 'src/tasks/billing/invoices.ts', tasks: ['Invoices.send'] },
      { path: 'src/tasks/helper.ts', tasks: undefined },
      { path: 'src/tasks/reports.ts', tasks: ['Reports.nightly', 'Reports.weekly'] },
    ]);
    for (const file of cache.files) {
      expect(file.size).toBe(readFileSync(join(root, file.path)).length);
      expect(file.mtimeMs).toBeGreaterThan(0);
    }
  });

  it('imports every file without a cache, and only the task files while the cache is fresh', async () => {
    const scanned = await load();
    expect(scanned).toMatchObject({ cache: 'missing', stale: [] });
    expect(scanned.imported).toHaveLength(3);
    expect(existsSync(marker)).toBe(true);

    await optimizeRegistry(root, folders);
    rmSync(marker);
    const fast = await load();
    expect(fast).toMatchObject({ cache: 'fresh', stale: [] });
    expect(fast.imported).toEqual([
      join(root, 'src/tasks/billing/invoices.ts'),
      join(root, 'src/tasks/reports.ts'),
    ]);
    expect(fast.ids).toEqual(['Invoices.send', 'Reports.nightly', 'Reports.weekly']);
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    [
      'touched',
      () => {
        const later = new Date(Date.now() + 60_000);
        utimesSync(join(root, 'src/tasks/helper.ts'), later, later);
      },
      'src/tasks/helper.ts changed',
    ],
    [
      'added',
      () => write(join(root, 'src/tasks/billing/refunds.ts'), taskFile('Refunds', 'daily')),
      'src/tasks/billing/refunds.ts was added',
    ],
    [
      'removed',
      () => rmSync(join(root, 'src/tasks/billing/invoices.ts')),
      'src/tasks/billing/invoices.ts was removed',
    ],
  ])('goes stale when a file is %s, says so once, and scans in full', async (_what, change, reason) => {
    await optimizeRegistry(root, folders);
    rmSync(marker, { force: true });
    change();
    const result = await load();
    expect(result.cache).toBe('stale');
    expect(result.stale).toEqual([`registry cache is stale (${reason}); run sundial optimize`]);
    expect(existsSync(marker)).toBe(true);
    expect(result.imported).toHaveLength(listTaskFiles(folders, root).length);
  });

  it('goes stale when its task files define other tasks through a file outside the folders, or when it cannot be read', async () => {
    const shared = join(root, 'src/shared/more.ts');
    write(shared, 'export class Shared {}\n');
    write(
      join(root, 'src/tasks/reports.ts'),
      `export * from '../shared/more.ts';\n${taskFile('Reports', 'nightly', 'weekly')}`,
    );
    await optimizeRegistry(root, folders);
    // No candidate file changed, so the cache looks fresh; the ids found then tell otherwise.
    write(shared, taskFile('Shared', 'sneaky'));
    expect(checkRegistryCache(root, folders, listTaskFiles(folders, root)).state).toBe('fresh');
    const result = await load();
    expect(result.cache).toBe('stale');
    expect(result.stale).toEqual([
      'registry cache is stale (its task files now define other tasks); run sundial optimize',
    ]);
    expect(result.ids).toEqual(['Invoices.send', 'Reports.nightly', 'Reports.weekly', 'Shared.sneaky']);

    write(registryCachePath(root), '{ not json');
    expect((await load()).stale).toEqual([
      'registry cache is stale (it cannot be read); run sundial optimize',
    ]);
  });

  it('is removed by clear, after which start-up scans in full without a word', async () => {
    await optimizeRegistry(root, folders);
    expect(clearRegistryCache(root)).toBe(true);
    expect(existsSync(registryCachePath(root))).toBe(false);
    expect(clearRegistryCache(root)).toBe(false);
    expect(await load()).toMatchObject({ cache: 'missing', stale: [] });
  });
});
