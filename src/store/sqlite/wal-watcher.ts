import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Notices commits made by other processes to the same SQLite file. In WAL mode every commit
 * appends frames to `<db>-wal` with write(2), which inotify reports within a fraction of a
 * millisecond — far sooner than any poll interval we could afford. The directory is watched rather
 * than the file because the WAL file is deleted when the last connection closes and recreated
 * later, which would silently end a watch on the file itself.
 */
export class WalWatcher {
  private watcher: FSWatcher | null = null;
  private readonly databasePath: string;
  private readonly onCommit: () => void;
  private readonly onError: (error: unknown) => void;

  constructor(databasePath: string, onCommit: () => void, onError: (error: unknown) => void) {
    this.databasePath = databasePath;
    this.onCommit = onCommit;
    this.onError = onError;
  }

  start(): void {
    if (this.watcher) return;
    const walName = `${basename(this.databasePath)}-wal`;
    try {
      this.watcher = watch(dirname(this.databasePath), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === walName) this.onCommit();
      });
      this.watcher.on('error', (error) => {
        // Workers keep polling as a backstop, so a lost watch slows wake-ups but loses nothing.
        this.onError(error);
        this.stop();
      });
    } catch (error) {
      this.onError(error);
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
