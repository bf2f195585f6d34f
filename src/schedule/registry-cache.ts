import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { type Discovery, discoverTasks, listTaskFiles } from './discovery.ts';

/**
 * What `sundial optimize` writes: every candidate file of the task folders with its size and
 * modification time, and the task ids of those that define tasks. While every file still matches,
 * start-up imports only the files with tasks; any difference makes the cache stale and ignored.
 * Size and mtime, not a content hash: checking must cost a `stat`, not a read of every file.
 */
export interface RegistryCache {
  version: 1;
  /** The config's `tasks` folders, as written there. */
  folders: string[];
  createdAt: string;
  files: { path: string; size: number; mtimeMs: number; tasks?: string[] }[];
}

export interface OptimizeSummary {
  /** Where the cache was written. */
  path: string;
  filesScanned: number;
  filesWithTasks: number;
  taskCount: number;
}

/** What loading the task folders did, with what it found. */
export interface TaskFolderLoad extends Discovery {
  /** `fresh`: only the cached task files were imported; otherwise every candidate file was. */
  cache: 'fresh' | 'stale' | 'missing' | 'off';
}

export type RegistryCacheCheck =
  | { state: 'missing' }
  | { state: 'stale'; reason: string }
  | { state: 'fresh'; taskFiles: string[]; taskIds: string[] };

/** The cache's place: `.sundial/registry.json` in `baseDir`, the config's folder. */
export function registryCachePath(baseDir: string): string {
  return join(baseDir, '.sundial', 'registry.json');
}

/** Scans the task folders in full and writes the cache; says what it holds. */
export async function optimizeRegistry(
  baseDir: string,
  folders: readonly string[],
): Promise<OptimizeSummary> {
  const files = listTaskFiles(folders, baseDir);
  // Stamped before importing: a file edited meanwhile leaves the cache stale rather than wrong.
  const stamps = files.map(stamp);
  const { taskIds } = await discoverTasks(files, baseDir);
  const cache: RegistryCache = {
    version: 1,
    folders: [...folders],
    createdAt: new Date().toISOString(),
    files: files.map((file, index) => {
      const tasks = taskIds.get(file);
      return { path: portable(relative(baseDir, file)), ...stamps[index]!, ...(tasks ? { tasks } : {}) };
    }),
  };
  const path = registryCachePath(baseDir);
  mkdirSync(dirname(path), { recursive: true });
  // Written aside and renamed, so a start-up never reads half a cache.
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(cache, null, 2)}\n`);
  renameSync(partial, path);
  return {
    path,
    filesScanned: files.length,
    filesWithTasks: taskIds.size,
    taskCount: [...taskIds.values()].reduce((sum, ids) => sum + ids.length, 0),
  };
}

/** Removes the cache; false when there was none. */
export function clearRegistryCache(baseDir: string): boolean {
  const path = registryCachePath(baseDir);
  try {
    statSync(path);
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return true;
}

/** Whether the cache still describes `files` (the task folders' candidates, as listed now). */
export function checkRegistryCache(
  baseDir: string,
  folders: readonly string[],
  files: readonly string[],
): RegistryCacheCheck {
  let cache: RegistryCache;
  try {
    cache = JSON.parse(readFileSync(registryCachePath(baseDir), 'utf8')) as RegistryCache;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'stale', reason: 'it cannot be read' };
  }
  if (cache?.version !== 1 || !Array.isArray(cache.files) || !Array.isArray(cache.folders)) {
    return { state: 'stale', reason: 'it was written by another version' };
  }
  if (JSON.stringify(cache.folders) !== JSON.stringify(folders)) {
    return { state: 'stale', reason: 'the config lists other task folders' };
  }
  const cached = new Map(cache.files.map((file) => [file.path, file]));
  const current = new Set(files.map((file) => portable(relative(baseDir, file))));
  for (const path of current) if (!cached.has(path)) return { state: 'stale', reason: `${path} was added` };
  for (const path of cached.keys())
    if (!current.has(path)) return { state: 'stale', reason: `${path} was removed` };
  const taskFiles: string[] = [];
  const taskIds: string[] = [];
  for (const file of files) {
    const entry = cached.get(portable(relative(baseDir, file)))!;
    let now: { size: number; mtimeMs: number };
    try {
      now = stamp(file);
    } catch {
      return { state: 'stale', reason: `${entry.path} was removed` };
    }
    if (now.size !== entry.size || now.mtimeMs !== entry.mtimeMs) {
      return { state: 'stale', reason: `${entry.path} changed` };
    }
    if (Array.isArray(entry.tasks) && entry.tasks.length > 0) {
      taskFiles.push(file);
      taskIds.push(...entry.tasks);
    }
  }
  return { state: 'fresh', taskFiles, taskIds };
}

/**
 * The `@Scheduled` tasks of the task folders: from the files the cache names when it is fresh,
 * else from every candidate file, after telling `onStaleCache` once why the cache was not used.
 */
export async function loadTaskFolders(
  baseDir: string,
  folders: readonly string[],
  { useCache = true, onStaleCache }: { useCache?: boolean; onStaleCache?: (message: string) => void } = {},
): Promise<TaskFolderLoad> {
  const files = listTaskFiles(folders, baseDir);
  if (!useCache) return { ...(await discoverTasks(files, baseDir)), cache: 'off' };
  const check = checkRegistryCache(baseDir, folders, files);
  if (check.state === 'missing') return { ...(await discoverTasks(files, baseDir)), cache: 'missing' };
  let reason = check.state === 'stale' ? check.reason : '';
  if (check.state === 'fresh') {
    const discovery = await discoverTasks(check.taskFiles, baseDir);
    // The files are as they were, but what they import from outside the folders may not be.
    const ids = discovery.tasks.map((task) => task.id).sort();
    if (JSON.stringify(ids) === JSON.stringify([...check.taskIds].sort()))
      return { ...discovery, cache: 'fresh' };
    reason = 'its task files now define other tasks';
  }
  onStaleCache?.(`registry cache is stale (${reason}); run sundial optimize`);
  return { ...(await discoverTasks(files, baseDir)), cache: 'stale' };
}

function stamp(file: string): { size: number; mtimeMs: number } {
  const { size, mtimeMs } = statSync(file);
  return { size, mtimeMs };
}

/** Forward slashes in the cache, so one written on Windows reads the same elsewhere. */
function portable(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}
