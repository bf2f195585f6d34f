import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { createSundial, type Sundial } from '../../src/index.ts';
import { tempDir } from '../helpers.ts';

const WORKER = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
const SCHEDULER = fileURLToPath(new URL('../fixtures/scheduler-process.ts', import.meta.url));
const TASK_WORKER = fileURLToPath(new URL('../fixtures/task-worker-process.ts', import.meta.url));

export interface WorkerChild {
  process: ChildProcess;
  /** Job ids whose handler started in this child, in order. */
  started: string[];
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** Starts `test/fixtures/worker-process.ts` in a real Node process (the same Node as the tests). */
export function startWorker(env: Record<string, string | number>): WorkerChild {
  return startChild(WORKER, env);
}

/** Starts `test/fixtures/scheduler-process.ts` in a real Node process. */
export function startScheduler(env: Record<string, string | number>): WorkerChild {
  return startChild(SCHEDULER, env);
}

/** Starts `test/fixtures/task-worker-process.ts` in a real Node process. */
export function startTaskWorker(env: Record<string, string | number>): WorkerChild {
  return startChild(TASK_WORKER, env);
}

function startChild(script: string, env: Record<string, string | number>): WorkerChild {
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
  });
  children.add(child);
  const started: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: { type: string; jobId?: string }) => {
      if (message.type === 'ready') resolve();
      if (message.type === 'started') started.push(message.jobId ?? '');
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  ready.catch(() => {});
  return { process: child, started, ready, exited };
}

/** Kills whatever a failed test left running. */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/**
 * Per test: a fresh temp folder with a database path, a Sundial on it for the test to inspect, and
 * afterwards every child killed and everything removed. Call inside a `describe`.
 */
export function useSharedDatabase(file: string): {
  readonly db: string;
  readonly dir: string;
  readonly sundial: Sundial;
} {
  let dir: ReturnType<typeof tempDir>;
  let db = '';
  let sundial: Sundial;
  beforeEach(() => {
    dir = tempDir();
    db = join(dir.path, file);
    sundial = createSundial({ store: { path: db } });
  });
  afterEach(async () => {
    killAll();
    await sundial.close();
    dir.cleanup();
  });
  return {
    get db() {
      return db;
    },
    get dir() {
      return dir.path;
    },
    get sundial() {
      return sundial;
    },
  };
}
