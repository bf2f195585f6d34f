/** Anything that can be closed gracefully: a worker, or a whole Sundial. */
export interface Closable {
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface SignalOptions {
  signals?: NodeJS.Signals[];
  /** How long running jobs get to finish before they are released. */
  graceMs?: number;
  /** Called on the first signal, e.g. to log that shutdown began. */
  onSignal?: (signal: NodeJS.Signals) => void;
  /** Exit the process once closed (default true). */
  exit?: boolean;
}

/**
 * Shuts `target` down gracefully on SIGTERM or SIGINT: stop claiming, let running jobs finish within
 * the grace period, release the rest back to waiting, then exit 0. A second signal exits at once
 * (code 130); jobs still held then are recovered by other workers when their leases expire.
 * Returns a function that removes the handlers.
 */
export function closeOnSignals(target: Closable, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let received = false;
  const handler = (signal: NodeJS.Signals) => {
    if (received) {
      process.exit(130);
    }
    received = true;
    options.onSignal?.(signal);
    target.close({ graceMs: options.graceMs }).then(
      () => {
        if (options.exit ?? true) process.exit(0);
      },
      (error) => {
        console.error('sundial: shutdown failed', error);
        if (options.exit ?? true) process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
