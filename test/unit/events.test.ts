import { describe, expect, it, vi } from 'vitest';
import { type SundialEvents, TypedEmitter } from '../../src/core/index.ts';

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
});
