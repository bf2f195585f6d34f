import { describe, expect, it } from 'vitest';
import { OutputBuffer } from '../../src/schedule/index.ts';

describe('task output', () => {
  // What is masked, and how, is specified in mask.test.ts; here, that output goes through it.
  it('masks secrets, the task’s env values and its secretKeys before keeping the output', () => {
    const buffer = new OutputBuffer({ secretKeys: ['stripe_sk'] }, ['s3kr1t-value']);
    buffer.write('password=hunter2 using s3kr1t-value stripe_sk=live_abc\n');
    expect(buffer.text()).toBe('password=[masked] using [masked] stripe_sk=[masked]\n');
  });

  it('never cuts a character in half when output is cut to size', () => {
    const buffer = new OutputBuffer({ maxOutputBytes: 10 });
    buffer.write('é'.repeat(20)); // two bytes each: a cut at an odd byte would split one
    buffer.write('€'.repeat(20)); // three bytes each
    buffer.write('€'.repeat(3));
    const text = buffer.text();
    expect(text).not.toContain('\uFFFD');
    expect(text).toMatch(/^\[\d+ bytes of earlier output cut\]\n€+$/);
    expect(Buffer.byteLength(text.split('\n')[1]!)).toBeLessThanOrEqual(10);
  });

  it('drops the partial first line left after cutting, which may hold half a secret', () => {
    const buffer = new OutputBuffer({ maxOutputBytes: 16 });
    buffer.write('x'.repeat(40));
    buffer.write('pass');
    buffer.write('word=hunter2');
    buffer.write('word=hunter2 again\nlast line\n');
    const text = buffer.text();
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/^\[\d+ bytes of earlier output cut\]\nlast line\n$/);
  });

  it('never starts the kept output with half a character a dropped chunk began', () => {
    const buffer = new OutputBuffer({ maxOutputBytes: 8 });
    const euros = Buffer.from('€'.repeat(10)); // 30 bytes
    buffer.write(euros.subarray(0, 20)); // ends two bytes into the seventh €
    buffer.write(euros.subarray(20));
    const text = buffer.text();
    expect(text).not.toContain('\uFFFD');
    expect(text).toMatch(/^\[\d+ bytes of earlier output cut\]\n€{1,2}$/);
  });

  it('masks a secret split across writes before cutting output to size', () => {
    const buffer = new OutputBuffer({ maxOutputBytes: 64 });
    buffer.write('x'.repeat(100));
    buffer.write('pass');
    buffer.write('word=hunter2\n');
    const text = buffer.text();
    expect(text).toContain('password=[masked]');
    expect(text).not.toContain('hunter2');
    expect(text.startsWith('[')).toBe(true);
  });

  it('stores NUL and invalid UTF-8 a command prints as U+FFFD, as on every engine', () => {
    const buffer = new OutputBuffer();
    buffer.write(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x63]));
    expect(buffer.text()).toBe('a\uFFFDb\uFFFDc');
  });
});
