import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerProcess } from '../child.ts';
import { QUEUE, withSundial } from '../fixtures.ts';
import { preciseNow, type TimedPayload } from '../protocol.ts';
import { percentile } from '../stats.ts';
import { withNamespace } from '../stores.ts';
import type { Sample, Workload } from './workload.ts';

export const RATE = 200;
export const TOTAL = 2_000;
export const CONCURRENCY = 50;

/**
 * Enqueue-to-start latency under a steady trickle, the case where a worker sits idle and must be
 * woken: the producer adds one job every 5 ms from this process, the worker process notes in its
 * handler how long ago each job was sent.
 */
export const latency: Workload = {
  id: 'W4',
  title: `enqueue→start latency, ${RATE} jobs/s for ${TOTAL / RATE} s`,
  metric: 'p99 latency',
  unit: 'ms',
  better: 'lower',
  target: 3,
  targetFor: ['sqlite'],
  reference: 3.3,
  run: (store) =>
    withNamespace(store, 'w4', async (spec): Promise<Sample> => {
      const worker = await WorkerProcess.spawn({
        mode: 'latency',
        store: spec,
        queue: QUEUE,
        concurrency: CONCURRENCY,
        expected: TOTAL,
      });
      try {
        return await measureLatency(worker, () =>
          withSundial(spec, (sundial) => {
            const queue = sundial.queue(QUEUE);
            return addPaced((sentAt) => queue.add<TimedPayload>('timed', { sentAt }));
          }),
        );
      } finally {
        await worker.stop();
      }
    }),
};

/**
 * Starts the worker process, lets `produce` add the paced jobs and collects what the worker saw,
 * corrected for the two processes' clocks. Shared with the peers (bench/compare), so every
 * contender is timed by the same code.
 */
export async function measureLatency(worker: WorkerProcess, produce: () => Promise<void>): Promise<Sample> {
  const offset = await clockOffset(worker);
  worker.send({ type: 'start' });
  await worker.receive('started', 5_000);
  // Let the worker's first (empty) claim round pass, so it waits for a wake-up as in steady state.
  await sleep(200);
  await produce();
  const { latencies } = await worker.receive('done', 30_000);
  const corrected = latencies.map((ms) => ms - offset);
  const p99 = percentile(corrected, 99);
  return {
    value: p99,
    details: {
      p50: percentile(corrected, 50),
      p95: percentile(corrected, 95),
      p99,
      max: Math.max(...corrected),
      clockOffsetMs: offset,
    },
  };
}

/**
 * Adds one job per tick at `RATE`, each due at a fixed time from the start, so one late timer does
 * not shift every later add (no drift), and without awaiting the previous add (a slow add must not
 * hold back the next: the producer is an open-loop load, like independent clients).
 */
export async function addPaced(add: (sentAt: number) => Promise<unknown>): Promise<void> {
  const interval = 1000 / RATE;
  const started = performance.now();
  const adds: Promise<unknown>[] = [];
  for (let n = 0; n < TOTAL; n++) {
    const wait = started + n * interval - performance.now();
    if (wait > 0) await sleep(wait);
    adds.push(add(preciseNow()));
  }
  await Promise.all(adds);
}

/**
 * How far the worker process's clock runs ahead of ours, NTP-style: the child's reading is taken
 * about halfway through a ping's round trip; of several pings the fastest bounds the error best.
 * Both clocks derive from the same system clock, so this is normally a few microseconds, but it is
 * cheap to measure rather than assume.
 */
async function clockOffset(worker: WorkerProcess): Promise<number> {
  let best = { roundTrip: Number.POSITIVE_INFINITY, offset: 0 };
  for (let id = 0; id < 20; id++) {
    const sent = preciseNow();
    worker.send({ type: 'ping', id });
    const pong = await worker.receive('pong', 5_000);
    const received = preciseNow();
    if (received - sent < best.roundTrip) {
      best = { roundTrip: received - sent, offset: pong.now - (sent + received) / 2 };
    }
  }
  return best.offset;
}
