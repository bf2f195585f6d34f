import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SUNDIAL = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

describe('sundial CLI with task folders', () => {
  let dir: ReturnType<typeof tempDir>;
  let marker: string;

  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(dir.path, file)), { recursive: true });
    writeFileSync(join(dir.path, file), text);
  };

  beforeEach(async () => {
    dir = tempDir();
    // `list` refuses a database that is not there yet.
    const app = createSundial({ store: { path: join(dir.path, 'app.db') } });
    await app.store.listQueues();
    await app.close();
    marker = join(dir.path, 'helper-was-imported');
    write('package.json', '{ "type": "module" }\n');
    write(
      'sundial.config.ts',
      `export default {
  store: { path: ${JSON.stringify(join(dir.path, 'app.db'))} },
  tasks: ['./src/tasks'],
  schedule: (schedule: any) => schedule.command('true').name('noop').hourly(),
};
`,
    );
    write(
      'src/tasks/reports.ts',
      `import { Scheduled, type TaskContext } from ${JSON.stringify(SUNDIAL)};

export class Reports {
  private readonly title = 'the nightly report';

  @Scheduled({ cron: '30 2 * * *', timezone: 'Europe/Rome', tags: ['reports'] })
  nightly({ log }: TaskContext) {
    log(\`built \${this.title}\`);
  }

  @Scheduled({ every: '5m', name: 'reports:warm' })
  static warm({ log }: TaskContext) {
    log(\`warmed by \${this.name}\`);
  }
}
`,
    );
    write(
      'src/tasks/helper.ts',
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\n`,
    );
    write('src/tasks/reports.test.ts', 'throw new Error("a test file is never imported by discovery");\n');
  });
  afterEach(() => dir.cleanup());

  const sundial = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir.path, encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  it('lists and runs decorated tasks next to the config schedule', () => {
    const listed = sundial('list');
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(listed.stdout).toMatch(/^noop\s+every hour\s/m);
    expect(listed.stdout).toMatch(
      /^Reports\.nightly\s+at 02:30 \(Europe\/Rome\)\s+30 2 \* \* \*\s+Europe\/Rome\s.*reports$/m,
    );
    expect(listed.stdout).toMatch(/^reports:warm\s+every 5 minutes\s+\*\/5 \* \* \* \*\s+local\s/m);

    expect(sundial('test', 'Reports.nightly')).toMatchObject({
      code: 0,
      stdout: 'completed Reports.nightly\nbuilt the nightly report',
    });
    expect(sundial('test', 'reports:warm')).toMatchObject({
      code: 0,
      stdout: 'completed reports:warm\nwarmed by Reports',
    });
  });

  it('caches the registry with optimize, starts from it while fresh, warns once when stale, and clears it', () => {
    expect(sundial('optimize')).toEqual({
      code: 0,
      stdout: 'cached .sundial/registry.json: 2 files scanned, 1 with tasks, 2 tasks',
      stderr: '',
    });
    expect(existsSync(join(dir.path, '.sundial/registry.json'))).toBe(true);

    rmSync(marker);
    const fresh = sundial('list', '--json');
    expect(fresh).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(fresh.stdout) as { id: string }[]).map((row) => row.id)).toEqual([
      'noop',
      'reports:warm',
      'Reports.nightly',
    ]);
    expect(existsSync(marker)).toBe(false);

    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir.path, 'src/tasks/helper.ts'), later, later);
    const stale = sundial('list');
    expect(stale.code).toBe(0);
    expect(stale.stderr).toBe(
      'sundial: registry cache is stale (src/tasks/helper.ts changed); run sundial optimize',
    );
    expect(stale.stdout).toMatch(/Reports\.nightly/);
    expect(existsSync(marker)).toBe(true);

    expect(JSON.parse(sundial('--json', 'optimize').stdout)).toMatchObject({
      filesScanned: 2,
      filesWithTasks: 1,
      taskCount: 2,
    });
    expect(sundial('list').stderr).toBe('');
    expect(sundial('optimize', '--clear').stdout).toBe('registry cache removed');
    expect(existsSync(join(dir.path, '.sundial/registry.json'))).toBe(false);
    expect(sundial('optimize', '--clear').stdout).toBe('no registry cache');
    expect(sundial('list').stderr).toBe('');
  });

  it('refuses a missing task folder, a config without folders to optimize, and a bad decorated task', () => {
    write('missing.config.ts', `export default { tasks: ['./src/nowhere'] };\n`);
    const missing = sundial('--config', 'missing.config.ts', 'list');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `sundial: No task folder at ${join(dir.path, 'src/nowhere')} (tasks: "./src/nowhere" in the config)`,
    );
    expect(sundial('--config', 'missing.config.ts', 'optimize').code).toBe(1);

    write('plain.config.ts', 'export default { schedule: () => {} };\n');
    expect(sundial('--config', 'plain.config.ts', 'optimize')).toMatchObject({
      code: 1,
      stderr: "sundial: The config lists no task folders (tasks: ['./src/tasks']); there is nothing to cache",
    });

    write(
      'src/tasks/bad.ts',
      `import { Scheduled } from ${JSON.stringify(SUNDIAL)};\nexport class Bad {\n  @Scheduled({ every: '7m' }) odd() {}\n}\n`,
    );
    expect(sundial('list')).toMatchObject({
      code: 1,
      stderr:
        'sundial: Invalid tasks["Bad.odd"].every: "7m" (a period that divides a minute, an hour or a day evenly, like 15s, 5m, 2h, 1d or 1w)',
    });
  });
});
