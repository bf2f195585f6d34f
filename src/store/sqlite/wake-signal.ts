import { closeSync, constants, type FSWatcher, openSync, watch, writeSync } from 'node:fs';

const ONE_BYTE = Buffer.from([1]);

/**
 * Tells other processes on the same database file that jobs may have become claimable.
 *
 * After a commit that makes work claimable (jobs added, retried, released, recovered, a queue
 * resumed) the store writes one byte at offset 0 of `<db>-wake`; every store watches that file with
 * inotify (`fs.watch`) and wakes its workers when it changes, typically well under a millisecond
 * later. Why not watch the WAL file itself: its first frame is written before the commit finishes,
 * so a woken worker would find the write lock still held, and every commit (heartbeats, a worker's
 * own completions) would wake every worker for nothing. The byte is written after COMMIT, so a
 * woken worker always sees the new jobs. Workers keep a slow poll as the backstop, so a lost
 * signal costs latency, never a job.
 */
export class WakeSignal {
  private fd: number | null = null;
  private watcher: FSWatcher | null = null;
  private readonly path: string;
  private readonly onWake: () => void;
  private readonly onError: (error: unknown) => void;

  /** `path`: the wake file, `<db>-wake` beside the database. */
  constructor(path: string, onWake: () => void, onError: (error: unknown) => void) {
    this.path = path;
    this.onWake = onWake;
    this.onError = onError;
  }

  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    this.watch();
  }

  /** Wakes the other processes' workers. Same-process workers are woken directly by the store. */
  ring(): void {
    if (this.fd === null) {
      if (!this.started) return;
      this.rewatch(); // the file went away and could not be opened again last time: try now
      if (this.fd === null) return;
    }
    try {
      writeSync(this.fd, ONE_BYTE, 0, 1, 0);
    } catch (error) {
      this.onError(error);
    }
  }

  stop(): void {
    this.started = false;
    this.watcher?.close();
    this.watcher = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private watch(): void {
    try {
      this.watcher = watch(this.path, { persistent: false }, (event) => {
        this.onWake();
        // Renamed or replaced under us: open and watch whatever now has the name. (A plain `rm`
        // sends no rename while our descriptor keeps the file alive; the workers' poll covers it.)
        if (event === 'rename') this.rewatch();
      });
      this.watcher.on('error', (error) => {
        this.onError(error);
        this.rewatch();
      });
    } catch (error) {
      this.onError(error);
    }
  }

  /** Opens and watches the file anew; on failure stays closed (`ring` tries again later). */
  private rewatch(): void {
    if (!this.started) return;
    this.watcher?.close();
    this.watcher = null;
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null; // never keep a number the OS may hand to another file
      closeSync(fd);
    }
    try {
      this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (error) {
      this.onError(error);
      return;
    }
    this.watch();
  }
}
