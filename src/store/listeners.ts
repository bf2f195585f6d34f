import { isChannel } from './store.ts';

/** Which listeners a wake-up calls: named queues or channels, every queue, or everyone. */
export type WakeTarget = Iterable<string> | 'queues' | 'everything';

/**
 * A store's `subscribe` listeners in this process, by queue or channel name. Every engine wakes
 * its own process's listeners directly after a change (and other processes' through its own
 * means: a wake file, NOTIFY, pub/sub), so this part is the same for all of them.
 */
export class Listeners {
  private readonly byName = new Map<string, Set<() => void>>();
  private readonly onError: (error: unknown) => void;

  /** `onError` hears a listener that throws; the others are still called. */
  constructor(onError: (error: unknown) => void) {
    this.onError = onError;
  }

  /** Adds a listener; returns the function that removes it. */
  add(name: string, listener: () => void): () => void {
    let set = this.byName.get(name);
    if (!set) {
      set = new Set();
      this.byName.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byName.get(name) === set) this.byName.delete(name);
    };
  }

  /**
   * Calls the listeners of `target`: `queues` is every queue's but not the channels' (jobs may be
   * claimable anywhere); `everything` adds the channels (after a lost connection, when anything may
   * have been missed).
   */
  wake(target: WakeTarget): void {
    const names =
      target === 'everything'
        ? [...this.byName.keys()]
        : target === 'queues'
          ? [...this.byName.keys()].filter((name) => !isChannel(name))
          : target;
    for (const name of names) {
      const set = this.byName.get(name);
      if (!set) continue;
      for (const listener of [...set]) {
        try {
          listener();
        } catch (error) {
          this.onError(error);
        }
      }
    }
  }

  clear(): void {
    this.byName.clear();
  }
}
