import { createSundial, FakeClock, Schedule, type Sundial } from '../../src/index.ts';
import { openStore, type StoreKind, withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

const LARGE = 100_000;
const SMALL = 10_000;
/** Tasks share 100 daily times, so at each of them 1 % of all schedules is due. */
const SLOTS = 100;
const DAY0 = Date.UTC(2026, 0, 5);

/**
 * 100,000 registered schedules: how long loading and syncing them takes, what they cost in memory,
 * and what a tick costs when 1 % are due. The headline compares the cost per due schedule at
 * 100,000 with that at 10,000 registered: a tick whose cost followed all schedules would be ~10×
 * dearer per due one; one that follows the due ones stays near 1×.
 */
export const manySchedules: Workload = {
  id: 'S2',
  title: `${LARGE.toLocaleString('en')} schedules: tick cost per due one vs ${SMALL.toLocaleString('en')}`,
  metric: 'cost per due schedule, 100k ÷ 10k',
  unit: 'ratio',
  better: 'lower',
  target: 1.5,
  run: async (store): Promise<Sample> => {
    const small = await measure(store, SMALL);
    const large = await measure(store, LARGE);
    return {
      value: large.perDueUs / small.perDueUs,
      details: {
        loadMs100k: large.loadMs,
        syncMs100k: large.syncMs,
        heapMB100k: large.heapMB,
        tickMs100k: large.tickMs,
        tickMs10k: small.tickMs,
        perDueUs100k: large.perDueUs,
        perDueUs10k: small.perDueUs,
        idleTickMs100k: large.idleTickMs,
      },
    };
  },
};

async function measure(store: StoreKind, count: number) {
  return withNamespace(store, 's2', async (spec) => {
    const clock = new FakeClock(DAY0);
    const sundial: Sundial = createSundial({ store: openStore(spec), clock });
    try {
      const heapBefore = usedHeap();
      let started = performance.now();
      const schedule = new Schedule();
      for (let i = 0; i < count; i++) {
        const slot = i % SLOTS;
        schedule
          .job('many', 'work', { i })
          .name(`task-${i}`)
          .dailyAt(
            `${String(Math.floor(slot / 60) + 1).padStart(2, '0')}:${String(slot % 60).padStart(2, '0')}`,
          )
          .allowOverlapping();
      }
      const tasks = schedule.load();
      const loadMs = performance.now() - started;
      const scheduler = sundial.scheduler(tasks, { autostart: false, environment: 'bench' });
      started = performance.now();
      await scheduler.sync();
      const syncMs = performance.now() - started;
      const heapMB = (usedHeap() - heapBefore) / 1e6;

      // First tick reads the schedules in; then a tick with nothing due, then one at a slot.
      clock.set(DAY0 + 30 * 60_000);
      await scheduler.tick();
      started = performance.now();
      await scheduler.tick();
      const idleTickMs = performance.now() - started;
      clock.set(DAY0 + 60 * 60_000); // 01:00, the first slot: 1 % due
      started = performance.now();
      await scheduler.tick();
      const tickMs = performance.now() - started;
      const due = count / SLOTS;
      const fired = (await sundial.queue('many').counts()).waiting;
      if (fired !== due) throw new Error(`expected ${due} fires, stored ${fired}`);
      return { loadMs, syncMs, heapMB, idleTickMs, tickMs, perDueUs: (tickMs * 1000) / due };
    } finally {
      await sundial.close();
    }
  });
}

function usedHeap(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}
