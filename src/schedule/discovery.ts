import { randomUUID } from 'node:crypto';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SundialError } from '../core/index.ts';
import {
  type ScheduledMethod,
  scheduledMarkOf,
  scheduledTaskId,
  takeRecentScheduledMarks,
} from './decorators.ts';

/** A `@Scheduled` method found on an exported class, with where it was found. */
export interface DiscoveredTask extends ScheduledMethod {
  id: string;
  /** The file that exports the class (absolute path). */
  file: string;
}

export interface Discovery {
  tasks: DiscoveredTask[];
  /** The files imported, in order. */
  imported: string[];
  /** Task ids by the file that exports their class; files without tasks are absent. */
  taskIds: Map<string, string[]>;
}

const EXTENSIONS = /\.(?:ts|mts|js|mjs)$/;
const SKIPPED_FILES = /\.d\.[mc]?ts$|\.(?:test|spec)\.[^.]+$/;

/**
 * Every file under the task `folders` (relative to `baseDir`) that may define tasks, sorted:
 * `.ts`, `.mts`, `.js` and `.mjs`, leaving out declarations, `*.test.*` and `*.spec.*` files,
 * `node_modules` and dot-folders. A missing folder is an error naming it.
 */
export function listTaskFiles(folders: readonly string[], baseDir: string): string[] {
  const files = new Set<string>();
  const visited = new Set<string>();
  const walk = (folder: string): void => {
    // A symlinked folder may lead back up the tree; each real folder is walked once.
    const real = realpathSync(folder);
    if (visited.has(real)) return;
    visited.add(real);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      let isDirectory = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        const target = statSync(path, { throwIfNoEntry: false });
        if (!target) continue; // a link to nothing (a deleted file) defines no tasks
        isDirectory = target.isDirectory();
      }
      if (isDirectory) walk(path);
      else if (EXTENSIONS.test(entry.name) && !SKIPPED_FILES.test(entry.name)) files.add(path);
    }
  };
  for (const folder of folders) {
    const path = resolve(baseDir, folder);
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // Reported below, with the folder's name.
    }
    if (!isDirectory) {
      throw new SundialError(
        'SUNDIAL_NO_TASK_FOLDER',
        `No task folder at ${path} (tasks: ${JSON.stringify(folder)} in the config)`,
      );
    }
    walk(path);
  }
  return [...files].sort();
}

// One discovery at a time in a process: marks are told apart by when they were made, so two
// passes importing at once would take each other's.
let running: Promise<unknown> = Promise.resolve();

/**
 * Imports `files` (TypeScript too, through tsx, as the config is loaded) and collects the
 * `@Scheduled` methods of the classes they export, static and prototype methods alike. A decorated
 * method whose class no file exports is an error naming the method and the file being imported.
 */
export function discoverTasks(files: readonly string[], baseDir = process.cwd()): Promise<Discovery> {
  const pass = running.then(() => discover(files, baseDir));
  running = pass.catch(() => {});
  return pass;
}

async function discover(files: readonly string[], baseDir: string): Promise<Discovery> {
  const load = await moduleLoader();
  takeRecentScheduledMarks(); // made by imports before this pass; not ours to judge
  const found = new Map<object, DiscoveredTask>();
  const madeWhile = new Map<object, { methodName: string; file: string }>();
  const taskIds = new Map<string, string[]>();
  for (const file of files) {
    let module: Record<string, unknown>;
    try {
      module = await load(file);
    } catch (error) {
      takeRecentScheduledMarks();
      const reason = error instanceof Error ? error.message : String(error);
      throw new SundialError(
        'SUNDIAL_TASK_FILE',
        `Cannot load task file ${relative(baseDir, file)}: ${reason}`,
        {
          cause: error,
        },
      );
    }
    for (const mark of takeRecentScheduledMarks())
      madeWhile.set(mark.method, { methodName: mark.methodName, file });
    const ids: string[] = [];
    for (const owner of exportedClasses(module)) {
      for (const [holder, isStatic] of [
        [owner, true],
        [owner.prototype, false],
      ] as const) {
        if (typeof holder !== 'object' && typeof holder !== 'function') continue;
        for (const key of Reflect.ownKeys(holder)) {
          // The descriptor's value, not holder[key]: reading a getter would run user code.
          const mark = scheduledMarkOf(Reflect.getOwnPropertyDescriptor(holder, key)?.value);
          if (!mark || mark.isStatic !== isStatic || found.has(mark.method)) continue;
          const task: DiscoveredTask = { ...mark, owner, id: '', file };
          task.id = scheduledTaskId(task);
          found.set(mark.method, task);
          ids.push(task.id);
        }
      }
    }
    if (ids.length > 0) taskIds.set(file, ids);
  }
  for (const [method, { methodName, file }] of madeWhile) {
    if (!found.has(method)) {
      throw new SundialError(
        'SUNDIAL_TASK_NOT_EXPORTED',
        `@Scheduled method ${methodName} (loaded from ${relative(baseDir, file)}) is on a class that no task file exports; export the class so discovery can find it`,
      );
    }
  }
  return { tasks: [...found.values()], imported: [...files], taskIds };
}

type Owner = DiscoveredTask['owner'];

/** The functions a module exports: its named exports and, for CommonJS, its `module.exports`' own. */
function exportedClasses(module: Record<string, unknown>): Owner[] {
  const found = new Set<Owner>();
  const add = (value: unknown) => {
    if (typeof value === 'function') found.add(value as Owner);
  };
  for (const value of Object.values(module)) add(value);
  const fallback = module.default;
  if (typeof fallback === 'object' && fallback !== null)
    for (const value of Object.values(fallback)) add(value);
  return [...found];
}

/**
 * Imports through one tsx namespace per pass, so that files importing each other share one copy of
 * each module (a separate `tsImport` per file would give a file imported twice two copies of its
 * classes). CommonJS hooks too, as `tsImport` registers them, for files outside an ES-module package.
 */
async function moduleLoader(): Promise<(file: string) => Promise<Record<string, unknown>>> {
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  const namespace = `sundial-tasks-${randomUUID()}`;
  cjs.register({ namespace });
  const api = esm.register({ namespace });
  // Left registered, as tsImport leaves its own: a task may import more files lazily when it runs.
  return async (file) =>
    (await api.import(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
}
