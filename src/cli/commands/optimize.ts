import { dirname, relative } from 'node:path';
import type { Command } from 'commander';
import { clearRegistryCache, loadConfig, optimizeRegistry, SundialError } from '../../index.ts';
import { type GlobalOptions, required } from '../shell.ts';

/** `optimize`: caches which files of the config's task folders define tasks. */
export function register(program: Command): void {
  program
    .command('optimize')
    .description("cache which files of the config's task folders define tasks, for a faster start")
    .option('--clear', 'remove the cache')
    .action(async (flags: { clear?: boolean }, command: Command) => {
      const { config: file, json } = command.optsWithGlobals() as GlobalOptions;
      const loaded = required(await loadConfig(file));
      const baseDir = dirname(loaded.path);
      if (flags.clear) {
        const removed = clearRegistryCache(baseDir);
        console.log(
          json ? JSON.stringify({ removed }) : removed ? 'registry cache removed' : 'no registry cache',
        );
        return;
      }
      const folders = loaded.config.tasks ?? [];
      if (folders.length === 0) {
        throw new SundialError(
          'SUNDIAL_NO_TASK_FOLDERS',
          "The config lists no task folders (tasks: ['./src/tasks']); there is nothing to cache",
        );
      }
      const summary = await optimizeRegistry(baseDir, folders);
      console.log(
        json
          ? JSON.stringify(summary, null, 2)
          : `cached ${relative(process.cwd(), summary.path)}: ${summary.filesScanned} files scanned, ` +
              `${summary.filesWithTasks} with tasks, ${summary.taskCount} tasks`,
      );
    });
}
