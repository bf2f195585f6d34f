import { describe, expect, it } from 'vitest';
import { Batcher, StoreUnavailableError } from '../../src/core/index.ts';

describe('group commit batcher', () => {
  it('hands calls made in one event-loop turn to one flush, in order', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>((items) => {
      flushes.push(items);
      return items.map((n) => n * 10);
    });
    const results = await Promise.all([1, 2, 3].map((n) => batcher.push(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('splits one turn into parts sent at once, whose callers hear back part by part', async () => {
    const flushes: number[][] = [];
    const gates: (() => void)[] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        flushes.push(items);
        await new Promise<void>((resolve) => gates.push(resolve));
        return items;
      },
      1000,
      2,
    );
    const heard: number[] = [];
    const all = Promise.all([1, 2, 3, 4, 5].map((n) => batcher.push(n).then((v) => heard.push(v))));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    gates[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual([1, 2, 3]);
    gates[1]!();
    await all;
    expect(heard).toEqual([1, 2, 3, 4, 5]);
  });

  it('takes a part count that is not a whole number above zero as one part', async () => {
    for (const parts of [0, -1, Number.NaN, 1.5]) {
      const flushes: number[][] = [];
      const batcher = new Batcher<number, number>(
        (items) => {
          flushes.push(items);
          return items;
        },
        1000,
        parts,
      );
      expect(await Promise.all([1, 2, 3].map((n) => batcher.push(n)))).toEqual([1, 2, 3]);
      expect(flushes).toEqual([[1, 2, 3]]);
    }
  });

  it('collects calls issued from microtasks of the same turn', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>((items) => {
      flushes.push(items);
      return items;
    });
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        await Promise.resolve();
        await Promise.resolve();
        return batcher.push(n);
      }),
    );
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('flushes early at the batch limit', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>((items) => {
      sizes.push(items.length);
      return items;
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.push(i)));
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('rejects every call of a failed flush and keeps working after', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>((items) => {
      if (fail) throw new Error('store down');
      return items;
    });
    const results = await Promise.allSettled([batcher.push(1), batcher.push(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batcher.push(3)).toBe(3);
  });

  it('fails only the item at fault when a shared flush fails', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>((items) => {
      flushes.push(items);
      if (items.includes(13)) throw new Error('13 is refused');
      return items;
    });
    const results = await Promise.allSettled([1, 13, 2].map((n) => batcher.push(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(flushes).toEqual([[1, 13, 2], [1], [13], [2]]);
  });

  it('fails every item of a flush the store was away for, without retrying them one by one', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>((items) => {
      flushes.push(items);
      throw new StoreUnavailableError(new Error('connection reset'));
    });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.push(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('retries each item alone after a flush the store refused (it did nothing: a deadlock, a timeout)', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>((items) => {
      flushes.push(items);
      if (items.length > 1)
        throw new StoreUnavailableError(new Error('deadlock detected'), { refused: true });
      return items;
    });
    expect(await Promise.all([1, 2].map((n) => batcher.push(n)))).toEqual([1, 2]);
    expect(flushes).toEqual([[1, 2], [1], [2]]);
  });

  it('drain waits for flushes under way', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done: number[] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      await gate;
      done.push(...items);
      return items;
    });
    void batcher.push(1);
    const drained = batcher.drain();
    setTimeout(release, 20);
    await drained;
    expect(done).toEqual([1]);
  });
});
