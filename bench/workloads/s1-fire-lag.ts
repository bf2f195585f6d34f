import { Schedule } from '../../src/index.ts';
import { withSundial } from '../fixtures.ts';
import { preciseNow } from '../protocol.ts';
import { percentile } from '../stats.ts';
import { withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

const SECONDS = 15;

/**
 * How late a one-second schedule fires: from each occurrence's intended time to the moment its job
 * is committed (the `task.fired` event comes after the commit). The scheduler sleeps until the next
 * due time, so this is timer precision plus one compare-and-set transaction.
 */
export const fireLag: Workload = {
  id: 'S1',
  title: `fire lag of a 1 s schedule, ${SECONDS} s`,
  metric: 'p99 fire lag',
  unit: 'ms',
  better: 'lower',
  target: 20,
  run: (store) =>
    withNamespace(store, 's1', (spec) =>
      withSundial(spec, async (sundial): Promise<Sample> => {
        const lags: number[] = [];
        sundial.on('task.fired', ({ scheduledFor }) => lags.push(preciseNow() - scheduledFor));
        const schedule = new Schedule();
        schedule.job('ticks', 'tick').name('tick').everySecond().allowOverlapping();
        const scheduler = sundial.scheduler(schedule);
        await scheduler.start();
        await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000 + 200));
        await scheduler.close();
        const p99 = percentile(lags, 99);
        return { value: p99, details: { p50: percentile(lags, 50), p99, fires: lags.length } };
      }),
    ),
};
