import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError, Masker, type MaskOptions, SundialError } from './core/index.ts';
import {
  applyScheduled,
  loadTaskFolders,
  Schedule,
  type SchedulerOptions,
  type TaskRunnerOptions,
} from './schedule/index.ts';
import type { SqliteStoreOptions, Store } from './store/index.ts';
import type { Handlers, WorkerOptions } from './worker/index.ts';

/** What `sundial.config.ts` exports (as default), for `sundial work`, `list` and friends. */
export interface SundialConfig {
  /** A store, or options for the embedded SQLite store (default `.sundial/sundial.db`). */
  store?: Store | SqliteStoreOptions;
  /** Defines the scheduled tasks. */
  schedule?: (schedule: Schedule) => void;
  /**
   * Folders (relative to the config file) whose modules' exported classes define tasks with
   * `@Scheduled`; searched recursively. `sundial optimize` caches what they hold.
   */
  tasks?: string[];
  /** Job workers to run, by queue name. */
  workers?: Record<string, { handlers: Handlers; options?: WorkerOptions }>;
  scheduler?: Omit<SchedulerOptions, 'autostart'>;
  /** The worker that runs `call`, `command` and `ping` tasks (allowedCommands, secretKeys, ...). */
  taskRunner?: TaskRunnerOptions & WorkerOptions;
  /** Rules and key names to mask beside the built-in ones (see `SundialOptions.mask`); the CLI applies them too. */
  mask?: MaskOptions;
}

const CONFIG_KEYS = ['store', 'schedule', 'tasks', 'workers', 'scheduler', 'taskRunner', 'mask'];
export const CONFIG_FILES = [
  'sundial.config.ts',
  'sundial.config.mts',
  'sundial.config.mjs',
  'sundial.config.js',
];

/**
 * Declares a config with its types checked; refuses unknown keys at once.
 *
 * @example
 * export default defineConfig({
 *   store: { path: '.sundial/app.db' },
 *   schedule: (schedule) => schedule.command('pg_dump', ['-Fc', 'app']).name('backup').dailyAt('02:30'),
 *   workers: { emails: { handlers: { welcome: sendWelcome }, options: { concurrency: 20 } } },
 * });
 */
export function defineConfig(config: SundialConfig): SundialConfig {
  return checkConfig(config, 'config');
}

function checkConfig(config: unknown, field: string): SundialConfig {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidOptionError(field, config, 'an object made with defineConfig({ ... })');
  }
  for (const [key, value] of Object.entries(config)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new InvalidOptionError(
        `${field}.${key}`,
        value,
        `not a config key; known: ${CONFIG_KEYS.join(', ')}`,
      );
    }
  }
  const { schedule, tasks, workers, mask } = config as SundialConfig;
  new Masker(mask, `${field}.mask`); // refuses a bad rule now, naming it
  if (schedule !== undefined && typeof schedule !== 'function') {
    throw new InvalidOptionError(
      `${field}.schedule`,
      schedule,
      'a function (schedule) => { ...define tasks... }',
    );
  }
  if (
    tasks !== undefined &&
    (!Array.isArray(tasks) || tasks.some((folder) => typeof folder !== 'string' || folder === ''))
  ) {
    throw new InvalidOptionError(`${field}.tasks`, tasks, "an array of folders, like ['./src/tasks']");
  }
  if (workers !== undefined && (typeof workers !== 'object' || workers === null)) {
    throw new InvalidOptionError(
      `${field}.workers`,
      workers,
      'an object of { handlers, options } by queue name',
    );
  }
  return config as SundialConfig;
}

/**
 * Loads a config file without a build step (TypeScript through tsx, which also handles standard
 * decorators): `file` if given, else the first `sundial.config.*` in `cwd`; null when there is none.
 */
export async function loadConfig(
  file?: string,
  cwd = process.cwd(),
): Promise<{ path: string; config: SundialConfig } | null> {
  const path = file ? resolve(cwd, file) : CONFIG_FILES.map((name) => resolve(cwd, name)).find(existsSync);
  if (!path) return null;
  if (!existsSync(path)) throw new SundialError('SUNDIAL_NO_CONFIG', `No config file at ${path}`);
  let module: Record<string, unknown>;
  if (/\.[mc]?ts$/.test(path)) {
    const { tsImport } = await import('tsx/esm/api');
    module = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  } else {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  // A file outside an ES-module package comes back as CommonJS: its default sits one level down.
  let exported = module.default;
  if (
    exported &&
    typeof exported === 'object' &&
    'default' in exported &&
    !('store' in exported || 'schedule' in exported)
  ) {
    exported = (exported as { default: unknown }).default;
  }
  if (exported === undefined) {
    throw new SundialError(
      'SUNDIAL_NO_CONFIG',
      `${path} has no default export: export default defineConfig({ ... })`,
    );
  }
  return { path, config: checkConfig(exported, path) };
}

/**
 * The schedule a loaded config defines: the tasks of its `schedule` function, then the
 * `@Scheduled` methods found in its `tasks` folders (through the `sundial optimize` cache while it
 * is fresh; `onStaleCache` hears once when it is not). Not yet loaded: call `.load()` to validate.
 *
 * @example
 * const loaded = await loadConfig();
 * const tasks = (await scheduleFromConfig(loaded!)).load();
 */
export async function scheduleFromConfig(
  loaded: { path: string; config: SundialConfig },
  options: { useCache?: boolean; onStaleCache?: (message: string) => void } = {},
): Promise<Schedule> {
  const schedule = new Schedule();
  loaded.config.schedule?.(schedule);
  const folders = loaded.config.tasks ?? [];
  if (folders.length > 0) {
    const { tasks } = await loadTaskFolders(dirname(loaded.path), folders, options);
    applyScheduled(schedule, tasks);
  }
  return schedule;
}
