import { InvalidOptionError } from '../core/index.ts';

export interface WorkerOptions {
  /** Jobs run at once. Default 10. */
  concurrency?: number;
  /**
   * Jobs claimed ahead of free slots, waiting here to start the moment one frees (their leases are
   * renewed meanwhile). More throughput when jobs are short and the store is far, at the cost of
   * holding jobs another worker could be running. Default 0.
   */
  prefetch?: number;
  /** How long a claim holds a job without a heartbeat. Default 30 s. */
  leaseMs?: number;
  /** How often held leases are renewed. Default a third of the lease. */
  heartbeatMs?: number;
  /**
   * Backstop poll when no wake-up arrives. Default 1000 ms. An idle worker's offer of its free slots
   * to adds (direct handoff, where the store has it) lasts twice this, renewed by every claim.
   */
  pollMs?: number;
  /** How often to look for jobs whose worker died. Default half the lease. */
  stalledCheckMs?: number;
  /** How long `close()` waits for running jobs before releasing them. Default 30 s. */
  graceMs?: number;
  /**
   * Largest result a handler may return, in bytes of JSON. A larger one fails its attempt for good
   * (`ResultTooLargeError`, code `SUNDIAL_RESULT_TOO_LARGE`) instead of being stored cut. Default
   * 1 MiB.
   */
  maxResultBytes?: number;
  /** Start claiming at once. Default true. */
  autostart?: boolean;
}

export interface ResolvedOptions {
  concurrency: number;
  maxResultBytes: number;
  prefetch: number;
  leaseMs: number;
  heartbeatMs: number;
  pollMs: number;
  stalledCheckMs: number;
  graceMs: number;
}

/** Every option `sundial.worker()` takes. */
export const WORKER_OPTION_KEYS: readonly (keyof WorkerOptions)[] = [
  'concurrency',
  'prefetch',
  'leaseMs',
  'heartbeatMs',
  'pollMs',
  'stalledCheckMs',
  'graceMs',
  'maxResultBytes',
  'autostart',
];

/**
 * Refuses worker options that `sundial.worker()` would refuse, naming the field under `field`
 * (`workers.emails.options.concurrency`), so a config is checked before anything starts.
 */
export function checkWorkerOptions(options: unknown, field = 'options'): void {
  resolveOptions(options as WorkerOptions, field);
}

export function resolveOptions(options: WorkerOptions, field = 'options'): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(field, options, 'an object of worker options');
  }
  for (const key of Object.keys(options)) {
    if (!WORKER_OPTION_KEYS.includes(key as keyof WorkerOptions)) {
      throw new InvalidOptionError(
        `${field}.${key}`,
        (options as Record<string, unknown>)[key],
        `not a worker option; known: ${WORKER_OPTION_KEYS.join(', ')}`,
      );
    }
  }
  const prefix = field;
  const wholeNumber = (field: keyof WorkerOptions, value: unknown, min: number, max: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidOptionError(`${prefix}.${field}`, value, `a whole number from ${min} to ${max}`);
    }
    return value;
  };
  const concurrency = wholeNumber('concurrency', options.concurrency ?? 10, 1, 10_000);
  const prefetch = wholeNumber('prefetch', options.prefetch ?? 0, 0, 10_000);
  const leaseMs = wholeNumber('leaseMs', options.leaseMs ?? 30_000, 100, 86_400_000);
  // At most half the lease, so one late heartbeat does not let the lease lapse.
  const heartbeatMs = wholeNumber(
    'heartbeatMs',
    options.heartbeatMs ?? Math.floor(leaseMs / 3),
    10,
    Math.floor(leaseMs / 2),
  );
  const pollMs = wholeNumber('pollMs', options.pollMs ?? 1000, 1, 3_600_000);
  const stalledCheckMs = wholeNumber(
    'stalledCheckMs',
    options.stalledCheckMs ?? Math.floor(leaseMs / 2),
    10,
    3_600_000,
  );
  const graceMs = wholeNumber('graceMs', options.graceMs ?? 30_000, 0, 86_400_000);
  const maxResultBytes = wholeNumber('maxResultBytes', options.maxResultBytes ?? 1_048_576, 1, 1_073_741_824);
  return { concurrency, maxResultBytes, prefetch, leaseMs, heartbeatMs, pollMs, stalledCheckMs, graceMs };
}
