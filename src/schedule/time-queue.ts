/**
 * Items ordered by a time, earliest first: a binary min-heap. Written here because the scheduler
 * needs nothing more than push and pop-the-earliest, and a dependency for twenty lines is not worth
 * it. With 100,000 tasks a tick touches only the due ones (log n each), not all of them.
 */
export class TimeQueue<Item> {
  private readonly heap: { time: number; item: Item }[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The earliest time, or null when empty. */
  peekTime(): number | null {
    return this.heap[0]?.time ?? null;
  }

  push(time: number, item: Item): void {
    const heap = this.heap;
    heap.push({ time, item });
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (heap[parent]!.time <= heap[child]!.time) break;
      [heap[parent], heap[child]] = [heap[child]!, heap[parent]!];
      child = parent;
    }
  }

  /** Removes and returns the earliest entry. */
  pop(): { time: number; item: Item } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let parent = 0;
      for (;;) {
        const left = parent * 2 + 1;
        const right = left + 1;
        let smallest = parent;
        if (left < heap.length && heap[left]!.time < heap[smallest]!.time) smallest = left;
        if (right < heap.length && heap[right]!.time < heap[smallest]!.time) smallest = right;
        if (smallest === parent) break;
        [heap[parent], heap[smallest]] = [heap[smallest]!, heap[parent]!];
        parent = smallest;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}
