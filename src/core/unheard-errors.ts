import type { Clock } from './clock.ts';
import { describeThrown } from './thrown.ts';

/** How often errors nobody listens for are shown, after the first. */
export const UNHEARD_ERROR_INTERVAL_MS = 60_000;

/**
 * Errors Sundial reports while nobody listens for `error` (a worker whose store is down, say)
 * would otherwise pass in silence. The first is shown at once as a process warning, then at most
 * one a minute, saying how many went unshown in between.
 */
export class UnheardErrors {
  private lastShownAt = Number.NEGATIVE_INFINITY;
  private unshown = 0;
  private readonly clock: Clock;
  private readonly show: (message: string) => void;

  constructor(
    clock: Clock,
    show: (message: string) => void = (message) =>
      process.emitWarning(message, { code: 'SUNDIAL_UNHEARD_ERROR' }),
  ) {
    this.clock = clock;
    this.show = show;
  }

  report(event: { error: unknown; context: string }): void {
    const now = this.clock.now();
    if (now - this.lastShownAt < UNHEARD_ERROR_INTERVAL_MS) {
      this.unshown++;
      return;
    }
    const more = this.unshown > 0 ? ` (${this.unshown} more since the last one shown)` : '';
    this.lastShownAt = now;
    this.unshown = 0;
    this.show(
      `Sundial, ${event.context}: ${describeThrown(event.error).message}${more}. ` +
        "Listen with sundial.on('error', ...) to handle these; until then one a minute is shown.",
    );
  }
}
