/** One soak's windows, and what they add up to at the end. */
import { median } from '../stats.ts';
import type { StoreSample } from './probes.ts';
import type { LatencySummary } from './protocol.ts';

/** What one 10-s window measured; rates are per second over the window. */
export interface SoakWindow {
  /** Seconds from the start to the window's end. */
  t: number;
  seconds: number;
  /** The producer's target rate during the window. */
  rate: number;
  addedPerSecond: number;
  completedPerSecond: number;
  /** `counts()` at the window's end, and how long it took. */
  waiting: number;
  active: number;
  countsMs: number;
  add: LatencySummary | null;
  addsInFlight: number;
  addsFailed: number;
  producerMaxGapMs: number;
  producerCpu: number;
  producerRssBytes: number;
  workerCpu: number;
  workerRssBytes: number;
  workerHeapBytes: number;
  workerStoreErrors: number;
  /** Share of the whole machine's CPU busy (other engineers' work included). */
  machineBusy: number;
  storeBytes: number;
  store: StoreSample['figures'];
}

export interface SoakSummary {
  warmupSeconds: number;
  windowsCounted: number;
  completedPerSecond: { min: number; median: number; max: number };
  addedPerSecond: { min: number; median: number; max: number };
  backlog: { end: number; max: number; slopePerMinute: number };
  addP99Ms: { median: number; max: number };
  countsMs: { first: number; last: number; max: number };
  workerRss: { startMb: number; endMb: number; slopeMbPerMinute: number };
  store: { startBytes: number; endBytes: number; jobsAdded: number; growthBytesPerJob: number };
}

/** Least-squares slope of `ys` against `xs` (0 for fewer than two points). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function spread(values: readonly number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) };
}

/**
 * The windows after the warm-up: throughput (min, median, max of the 10-s rates), the backlog's
 * trend (least squares, jobs per minute), the worker's RSS trend (MB per minute), and the store's
 * growth per job added between the warm-up's end and the last window.
 */
export function summarise(windows: readonly SoakWindow[], warmupSeconds: number): SoakSummary {
  // The window that ends the warm-up is the baseline for growth; the counted ones follow it.
  let counted = windows.filter((window) => window.t - window.seconds >= warmupSeconds - 0.5);
  if (counted.length < 2) counted = windows.slice(-Math.max(1, Math.min(windows.length, 2)));
  const base = windows[windows.indexOf(counted[0]!) - 1] ?? counted[0]!;
  const last = counted[counted.length - 1]!;
  const minutes = counted.map((window) => window.t / 60);
  const jobsAdded = counted
    .filter((window) => window !== base)
    .reduce((sum, window) => sum + window.addedPerSecond * window.seconds, 0);
  const p99s = counted.flatMap((window) => (window.add ? [window.add.p99] : []));
  const mb = (bytes: number) => bytes / 1024 / 1024;
  return {
    warmupSeconds,
    windowsCounted: counted.length,
    completedPerSecond: spread(counted.map((window) => window.completedPerSecond)),
    addedPerSecond: spread(counted.map((window) => window.addedPerSecond)),
    backlog: {
      end: last.waiting,
      max: Math.max(...counted.map((window) => window.waiting)),
      slopePerMinute: slope(
        minutes,
        counted.map((window) => window.waiting),
      ),
    },
    addP99Ms: { median: p99s.length > 0 ? median(p99s) : 0, max: p99s.length > 0 ? Math.max(...p99s) : 0 },
    countsMs: {
      first: counted[0]!.countsMs,
      last: last.countsMs,
      max: Math.max(...counted.map((window) => window.countsMs)),
    },
    workerRss: {
      startMb: mb(counted[0]!.workerRssBytes),
      endMb: mb(last.workerRssBytes),
      slopeMbPerMinute: slope(
        minutes,
        counted.map((window) => mb(window.workerRssBytes)),
      ),
    },
    store: {
      startBytes: base.storeBytes,
      endBytes: last.storeBytes,
      jobsAdded,
      growthBytesPerJob: jobsAdded > 0 ? (last.storeBytes - base.storeBytes) / jobsAdded : 0,
    },
  };
}

export function renderSummary(summary: SoakSummary): string {
  const n = (value: number, digits = 0) =>
    value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const s = summary;
  return [
    `after ${s.warmupSeconds} s of warm-up, ${s.windowsCounted} windows of 10 s:`,
    `  completed/s  min ${n(s.completedPerSecond.min)}  median ${n(s.completedPerSecond.median)}  max ${n(s.completedPerSecond.max)}`,
    `  added/s      min ${n(s.addedPerSecond.min)}  median ${n(s.addedPerSecond.median)}  max ${n(s.addedPerSecond.max)}`,
    `  backlog      end ${n(s.backlog.end)}  max ${n(s.backlog.max)}  trend ${n(s.backlog.slopePerMinute)} jobs/min`,
    `  add p99      median ${n(s.addP99Ms.median, 1)} ms  max ${n(s.addP99Ms.max, 1)} ms`,
    `  counts()     first ${n(s.countsMs.first, 1)} ms  last ${n(s.countsMs.last, 1)} ms  max ${n(s.countsMs.max, 1)} ms`,
    `  worker RSS   ${n(s.workerRss.startMb, 1)} → ${n(s.workerRss.endMb, 1)} MB, trend ${n(s.workerRss.slopeMbPerMinute, 2)} MB/min`,
    `  store        ${n(s.store.startBytes / 1024 / 1024, 1)} → ${n(s.store.endBytes / 1024 / 1024, 1)} MB over ${n(s.store.jobsAdded)} jobs: ${n(s.store.growthBytesPerJob)} bytes/job`,
  ].join('\n');
}
