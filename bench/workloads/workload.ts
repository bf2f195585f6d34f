import type { StoreKind } from '../stores.ts';

/** What one run of a workload measured: its headline figure and any secondary ones (p50 beside p99). */
export interface Sample {
  value: number;
  details?: Record<string, number>;
}

export interface Workload {
  /** What `--only` selects, e.g. `W3`. */
  id: string;
  title: string;
  /** The headline figure, e.g. `throughput` or `p99 latency`. */
  metric: string;
  unit: 'jobs/s' | 'ms' | 'MB' | 'ratio';
  /** Whether a bigger headline figure is better (throughput) or worse (latency, memory). */
  better: 'higher' | 'lower';
  /** The figure to reach on this machine (2 cores). */
  target: number;
  /**
   * The stores `target` is set for; all when absent. The throughput and latency targets of W1–W4 are
   * the embedded engine's: the server engines' goals are ratios to their peers (`--compare`).
   */
  targetFor?: readonly StoreKind[];
  /** BullMQ on Redis, measured on this machine with the same workload; absent where not measured. */
  reference?: number;
  /**
   * Run once, uncounted, before the measured runs. Set for workloads timed in the bench's own
   * process: their first run would otherwise time V8 compiling the add path, and their figures would
   * depend on which workloads happened to run before them. Worker-process workloads start a fresh
   * process each run, so they are cold every time alike and need none.
   */
  warmup?: boolean;
  /** The stores it makes sense on; all of them when absent. */
  stores?: readonly StoreKind[];
  /** One run on a fresh, empty namespace of `store`. */
  run(store: StoreKind): Promise<Sample>;
}
