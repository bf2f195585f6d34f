import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeThrown, InvalidOptionError, Masker, type MaskOptions, SundialError } from './core/index.ts';
import {
  applyScheduled,
  checkSchedulerOptions,
  checkTaskRunnerOptions,
  loadTaskFolders,
  Schedule,
  type SchedulerOptions,
  TASK_RUNNER_OPTION_KEYS,
  type TaskRunnerOptions,
} from './schedule/index.ts';
import { checkSqliteStoreOptions, type SqliteStoreOptions, type Store } from './store/index.ts';
import {
  checkWorkerOptions,
  type Handlers,
  normaliseHandlers,
  WORKER_OPTION_KEYS,
  type WorkerOptions,
} from './worker/index.ts';

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

/**
 * Checks a whole config; fields are named as written in it (`workers.emails.options.concurrency`),
 * and `source` says which config it is when the whole of it is wrong.
 */
function checkConfig(config: unknown, source: string): SundialConfig {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidOptionError(source, config, 'an object made with defineConfig({ ... })');
  }
  for (const [key, value] of Object.entries(config)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new InvalidOptionError(key, value, `not a config key; known: ${CONFIG_KEYS.join(', ')}`);
    }
  }
  const { schedule, tasks, workers, taskRunner, mask } = config as SundialConfig;
  new Masker(mask, 'mask'); // refuses a bad rule now, naming it
  if (schedule !== undefined && typeof schedule !== 'function') {
    throw new InvalidOptionError('schedule', schedule, 'a function (schedule) => { ...define tasks... }');
  }
  if (
    tasks !== undefined &&
    (!Array.isArray(tasks) || tasks.some((folder) => typeof folder !== 'string' || folder === ''))
  ) {
    throw new InvalidOptionError('tasks', tasks, "an array of folders, like ['./src/tasks']");
  }
  if (workers !== undefined && (typeof workers !== 'object' || workers === null)) {
    throw new InvalidOptionError('workers', workers, 'an object of { handlers, options } by queue name');
  }
  // Everything a command would start is checked here, before anything starts: a bad worker option
  // found after the scheduler began would leave `sundial work` half running.
  checkStore((config as SundialConfig).store, 'store');
  for (const [queue, entry] of Object.entries(workers ?? {})) checkWorkerEntry(entry, `workers.${queue}`);
  const { scheduler } = config as SundialConfig;
  if (scheduler !== undefined) checkSchedulerOptions(scheduler);
  if (taskRunner !== undefined) {
    if (typeof taskRunner !== 'object' || taskRunner === null) {
      throw new InvalidOptionError(
        'taskRunner',
        taskRunner,
        "an object of task worker options, like { allowedCommands: ['pg_dump'] }",
      );
    }
    const known = new Set<string>([...WORKER_OPTION_KEYS, ...TASK_RUNNER_OPTION_KEYS]);
    for (const [key, value] of Object.entries(taskRunner)) {
      if (!known.has(key)) {
        throw new InvalidOptionError(
          `taskRunner.${key}`,
          value,
          `not a task runner option; known: ${[...known].join(', ')}`,
        );
      }
    }
    checkTaskRunnerOptions(taskRunner as Record<string, unknown>, 'taskRunner');
    checkWorkerOptions(workerPart(taskRunner), 'taskRunner');
  }
  return config as SundialConfig;
}

function checkStore(store: unknown, field: string): void {
  if (store === undefined) return;
  if (typeof (store as Store | null)?.claimJobs === 'function') return;
  if (typeof store !== 'object' || store === null) {
    throw new InvalidOptionError(
      field,
      store,
      'a store (new PostgresStore(...), new RedisStore(...)) or SQLite options',
    );
  }
  checkSqliteStoreOptions(store as SqliteStoreOptions);
}

function checkWorkerEntry(entry: unknown, field: string): void {
  if (typeof entry !== 'object' || entry === null) {
    throw new InvalidOptionError(field, entry, 'an object { handlers, options? }');
  }
  const { handlers, options } = entry as { handlers?: unknown; options?: unknown };
  try {
    normaliseHandlers(handlers);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    throw new InvalidOptionError(`${field}.${error.field}`, error.value, error.expected);
  }
  if (options !== undefined) checkWorkerOptions(options, `${field}.options`);
}

/** The worker options among a task runner's (the rest are the runner's own, checked where it is made). */
function workerPart(taskRunner: object): WorkerOptions {
  const known = new Set<string>(WORKER_OPTION_KEYS);
  return Object.fromEntries(Object.entries(taskRunner).filter(([key]) => known.has(key))) as WorkerOptions;
}

/**
 * The config module's default export, boxed (an async function returning a promise would adopt
 * it); a module that fails to load is one plain error, not a stack.
 */
async function importDefault(path: string): Promise<{ exported: unknown }> {
  let module: Record<string, unknown>;
  try {
    if (/\.[mc]?ts$/.test(path)) {
      const { tsImport } = await import('tsx/esm/api');
      module = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } else {
      module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof SundialError) throw error; // a definition refused while the file ran
    throw configFailed(path, 'it could not be loaded', error);
  }
  // A file outside an ES-module package comes back as CommonJS: its default sits one level down.
  const exported = module.default;
  if (
    exported &&
    typeof exported === 'object' &&
    'default' in exported &&
    !('store' in exported || 'schedule' in exported)
  ) {
    return { exported: (exported as { default: unknown }).default };
  }
  return { exported };
}

function configFailed(path: string, what: string, cause: unknown): SundialError {
  const { name, message } = describeThrown(cause);
  return new SundialError(
    'SUNDIAL_CONFIG_FAILED',
    `Cannot use the config ${path}: ${what} (${name}: ${message})`,
    {
      cause,
    },
  );
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
  if (!statSync(path).isFile()) {
    throw new SundialError('SUNDIAL_NO_CONFIG', `${path} is not a file: give the config file itself`);
  }
  let { exported } = await importDefault(path);
  // `export default loadSecrets().then(...)`: a config may be a promise of one.
  if (typeof (exported as PromiseLike<unknown> | null)?.then === 'function') {
    try {
      exported = await exported;
    } catch (error) {
      throw configFailed(path, 'its default export is a promise that rejected', error);
    }
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
