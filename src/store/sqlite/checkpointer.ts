import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file from a background thread.
 *
 * SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past 1000 pages, and with
 * it the fsync of the database file: a few milliseconds in which that commit — a worker's claim, a
 * producer's add — and, `node:sqlite` being synchronous, its whole event loop stand still. Each
 * connection of ours turns the automatic checkpoint off and this thread, with a connection of its
 * own, runs a PASSIVE checkpoint on a timer instead: it never blocks readers or writers, and a
 * fully checkpointed WAL is rewound from the start by the next writer, so the file stays small.
 * The code is inline so the thread needs no file of its own in both `src/` and `dist/`.
 */
const THREAD_CODE = `
const { DatabaseSync } = require('node:sqlite');
const { workerData, parentPort } = require('node:worker_threads');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA wal_autocheckpoint = 0');
const timer = setInterval(() => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.once('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export class Checkpointer {
  private thread: Worker | null = null;
  /** Settles when the thread ends, however it ends (recorded at start: a late `once` would miss it). */
  private exited: Promise<void> = Promise.resolve();
  private readonly path: string;
  private readonly intervalMs: number;

  constructor(path: string, intervalMs: number) {
    this.path = path;
    this.intervalMs = intervalMs;
  }

  start(onError: (error: unknown) => void): void {
    if (this.thread) return;
    this.thread = new Worker(THREAD_CODE, {
      eval: true,
      workerData: { path: this.path, intervalMs: this.intervalMs },
      // A small heap: the thread only runs one statement on a timer.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    const thread = this.thread;
    this.exited = new Promise((resolve) => thread.once('exit', () => resolve()));
    thread.on('error', onError);
    // The thread must never be the reason a process stays alive.
    thread.unref();
  }

  async stop(): Promise<void> {
    const thread = this.thread;
    this.thread = null;
    if (!thread) return;
    // Referenced again while it stops: otherwise a process with nothing else to do would exit
    // before this promise settles, skipping whatever the caller does after `close()`.
    thread.ref();
    thread.postMessage('stop');
    await this.exited;
  }
}
