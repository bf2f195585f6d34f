import { describe, expect, it } from 'vitest';
import { SharedCall } from '../../src/core/shared-call.ts';

/** A call that counts its runs and ends (or fails) when the test says. */
function gatedCall() {
  const runs: { end: () => void; fail: (error: Error) => void }[] = [];
  const call = new SharedCall(
    () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ end: resolve, fail: reject });
      }),
  );
  return { call, runs };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('shared call', () => {
  it('runs at once when idle; requests made while it runs share one call after it', async () => {
    const { call, runs } = gatedCall();
    const heard: string[] = [];
    const first = call.request().then(() => heard.push('first'));
    await settle();
    expect(runs).toHaveLength(1);
    // Made after the first call began: it does not cover them, the next one does.
    const second = call.request().then(() => heard.push('second'));
    const third = call.request().then(() => heard.push('third'));
    await settle();
    expect(runs).toHaveLength(1);
    runs[0]!.end();
    await first;
    await settle();
    expect(heard).toEqual(['first']);
    expect(runs).toHaveLength(2);
    runs[1]!.end();
    await Promise.all([second, third]);
    expect(heard).toEqual(['first', 'second', 'third']);
    // Idle again: the next request runs a call of its own.
    const fourth = call.request();
    await settle();
    expect(runs).toHaveLength(3);
    runs[2]!.end();
    await fourth;
  });

  it('a failed call fails its own requests only; those waiting get a call of their own', async () => {
    const { call, runs } = gatedCall();
    const first = call.request();
    await settle();
    const second = call.request();
    runs[0]!.fail(new Error('server gone'));
    await expect(first).rejects.toThrow('server gone');
    await settle();
    expect(runs).toHaveLength(2);
    runs[1]!.end();
    await expect(second).resolves.toBeUndefined();
  });

  it('a call that throws at once rejects its requests, and the next request runs again', async () => {
    let calls = 0;
    const call = new SharedCall(() => {
      calls++;
      if (calls === 1) throw new Error('refused');
      return Promise.resolve();
    });
    await expect(call.request()).rejects.toThrow('refused');
    await expect(call.request()).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
