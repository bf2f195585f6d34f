import { StoreUnavailableError } from './errors.ts';

/**
 * A count a store declares (`pipelineDepth`, `addBatchParts`): 1 when it is absent or not a whole
 * number above zero, as from a store written before it or in plain JS.
 */
export function countOrOne(declared: unknown): number {
  return Number.isInteger(declared) && (declared as number) > 0 ? (declared as number) : 1;
}

/**
 * Group commit: calls made in the same event-loop turn are handed to `flush` together, so a burst of
 * single `add()` calls (or job completions) shares one store transaction instead of paying one each.
 * The flush runs on `setImmediate`, after the current turn's microtasks, which is what lets awaited
 * calls issued by many concurrent producers land in one batch.
 */
export class Batcher<Item, Output> {
  private pending: { item: Item; resolve: (value: Output) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();

  private readonly flush: (items: Item[]) => Promise<Output[]> | Output[];
  private readonly maxBatch: number;
  private readonly parts: number;

  /**
   * `parts`: how many flushes one turn's items are split into, all under way at once. With more
   * than one, the callers of the first part hear back, and send more, while the store still works
   * on the next; only for a store that keeps such flushes in order (see `Store.addBatchParts`).
   */
  constructor(flush: (items: Item[]) => Promise<Output[]> | Output[], maxBatch = 1000, parts = 1) {
    this.flush = flush;
    this.maxBatch = maxBatch;
    this.parts = countOrOne(parts);
  }

  push(item: Item): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  /** Flushes what is pending now and waits for every flush still under way. */
  async drain(): Promise<void> {
    this.run();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  get size(): number {
    return this.pending.length;
  }

  private run(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    const size = Math.ceil(items.length / this.parts);
    for (let at = 0; at < items.length; at += size) {
      const done = this.execute(items.slice(at, at + size));
      this.inFlight.add(done);
      void done.finally(() => this.inFlight.delete(done));
    }
  }

  private async execute(batch: typeof this.pending): Promise<void> {
    try {
      const outputs = await this.flush(batch.map((entry) => entry.item));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outputs[i] as Output);
    } catch (error) {
      // A store gone away mid-flush is no item's fault, and the flush may have landed with only its
      // answer lost: retrying each alone would then store every item a second time. (A flush the
      // store refused, as a deadlock or a timeout, did nothing: retrying each alone is safe.)
      if (batch.length === 1 || (error instanceof StoreUnavailableError && !error.refused)) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // One caller's bad item must not fail the others that happened to share its turn: retry
      // each alone, so only the item at fault is reported as failing.
      await Promise.all(batch.map((entry) => this.execute([entry])));
    }
  }
}
