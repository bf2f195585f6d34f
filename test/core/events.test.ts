import { describe, expect, it, vi } from 'vitest';
import {
  FakeClock,
  type SundialEvents,
  TypedEmitter,
  UNHEARD_ERROR_INTERVAL_MS,
  UnheardErrors,
} from '../../src/core/index.ts';
import { createSundial, PostgresStore } from '../../src/index.ts';
import { freePort } from '../process/free-port.ts';

describe('typed emitter', () => {
  it('reports a listener that throws on the error event, and still calls the other listeners', () => {
    const events = new TypedEmitter<SundialEvents>();
    const errors: string[] = [];
    const after = vi.fn();
    events.on('error', ({ context }) => errors.push(context));
    events.on('worker.started', () => {
      throw new Error('bug');
    });
    events.on('worker.started', after);
    expect(() => events.emit('worker.started', { worker: 'w', queue: 'q', concurrency: 1 })).not.toThrow();
    expect(errors).toEqual(['a listener of worker.started']);
    expect(after).toHaveBeenCalledTimes(1);
  });

  it('turns a throwing error listener into a process warning instead of throwing', () => {
    const events = new TypedEmitter<SundialEvents>();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    events.on('error', () => {
      throw new Error('error listener bug');
    });
    expect(() => events.emit('error', { error: new Error('x'), context: 'test' })).not.toThrow();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('error listener bug'));
    warn.mockRestore();
  });

  it('shows errors nobody listens for: the first at once, then one a minute with the count between', () => {
    const clock = new FakeClock();
    const shown: string[] = [];
    const unheard = new UnheardErrors(clock, (message) => shown.push(message));
    const events = new TypedEmitter<SundialEvents>({
      unheard: (name, event) => {
        if (name === 'error') unheard.report(event as SundialEvents['error']);
      },
    });
    const down = { error: new Error('The store cannot be reached'), context: 'worker w1: renewing leases' };
    events.emit('error', down);
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      events.emit('error', down);
    }
    expect(shown).toEqual([
      "Sundial, worker w1: renewing leases: The store cannot be reached. Listen with sundial.on('error', ...) to handle these; until then one a minute is shown.",
    ]);
    clock.advance(UNHEARD_ERROR_INTERVAL_MS);
    events.emit('error', down);
    expect(shown[1]).toContain('The store cannot be reached (5 more since the last one shown)');
    // Someone listens: nothing more is shown.
    events.on('error', () => {});
    clock.advance(UNHEARD_ERROR_INTERVAL_MS);
    events.emit('error', down);
    expect(shown).toHaveLength(2);
  });

  it('warns when a worker cannot reach its store and nobody listens for errors', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'SUNDIAL_UNHEARD_ERROR') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const port = await freePort();
    const sundial = createSundial({
      store: new PostgresStore({ connectionString: `postgres://root@127.0.0.1:${port}/test` }),
    });
    try {
      sundial.worker('q', { n: () => {} }, { pollMs: 20 });
      const deadline = Date.now() + 10_000;
      while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Many failed rounds by now, one warning.
      await new Promise((r) => setTimeout(r, 300));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^Sundial, worker worker:\S+: .*cannot be reached: connect ECONNREFUSED 127\.0\.0\.1:\d+/,
      );
    } finally {
      process.off('warning', onWarning);
      await sundial.close({ graceMs: 0 });
    }
  });
});
