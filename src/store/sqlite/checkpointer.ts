import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file from a background thread.
 *
 * SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past 1000 pages, and with
 * it the fsync of the database file: a few milliseconds in which that commit — a worker's claim, a
 * producer's add — and, `node:sqlite` being synchronous, its whole event loop stand still. Each
 * connection of ours turns the automatic checkpoint off and this thread, with a connection of its
 * own, runs a PASSIVE checkpoint on a timer instead: it never blocks readers or writers.
 *
 * A fully checkpointed WAL is rewound from its start by the next writer only if no reader is still
 * reading it at that moment. With processes reading and writing without pause (a producer and a
 * worker at 1,500 jobs/s) one always is, and the WAL grew by some 30 KB a job, gigabytes in
 * minutes. So once it passes `RESTART_BYTES`, the thread runs a RESTART checkpoint instead: it holds
 * writers back (they wait, as for any other writer) until the readers of the old WAL are done, so
 * the next write starts it afresh. Readers are short, so writers wait a few milliseconds; one that
 * does not finish within `RESTART_WAIT_MS` leaves the restart to a later round.
 * The code is inline so the thread needs no file of its own in both `src/` and `dist/`.
 */
const THREAD_CODE = `
const { DatabaseSync } = require('node:sqlite');
const { workerData, parentPort } = require('node:worker_threads');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA wal_autocheckpoint = 0');
// Only the RESTART checkpoint waits (PASSIVE never does): for readers to finish, at most this long.
db.exec('PRAGMA busy_timeout = ' + workerData.restartWaitMs);
const pageSize = db.prepare('PRAGMA page_size').get().page_size;
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
let timer;
const round = () => {
  let soon = false;
  try {
    const walBytes = passive.get().log * pageSize;
    // A WAL past half its restart size is growing fast: look again soon, not at the usual pace...
    soon = walBytes > workerData.restartBytes / 2;
    // ...unless a restart just waited in vain for a long reader: each try holds writers back.
    if (walBytes > workerData.restartBytes && restart.get().busy) soon = false;
  } catch {}
  timer = setTimeout(round, soon ? 20 : workerData.intervalMs);
};
timer = setTimeout(round, workerData.intervalMs);
parentPort.once('message', () => { clearTimeout(timer); db.close(); parentPort.close(); });
`;

/** How large the WAL may grow before it is restarted (see above). */
export const RESTART_BYTES = 64 * 1024 * 1024;
/** How long a restart waits for readers of the old WAL before it gives up until the next round. */
const RESTART_WAIT_MS = 200;

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
      workerData: {
        path: this.path,
        intervalMs: this.intervalMs,
        restartBytes: RESTART_BYTES,
        restartWaitMs: RESTART_WAIT_MS,
      },
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
