import { describe, expect, it } from 'vitest';
import { maskSecrets, OutputBuffer } from '../../src/schedule/index.ts';

describe('masking secrets in task output', () => {
  it.each([
    ['a JWT', 'token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ', 'token: [masked]'],
    ['a Bearer header', 'Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [masked]'],
    ['password=', 'connecting with password=hunter2 now', 'connecting with password=[masked] now'],
    ['a longer key name', 'DB_PASSWORD=s3cr3t psql', 'DB_PASSWORD=[masked] psql'],
    ['JSON', '{"api_key": "k-123", "user": "ada"}', '{"api_key": "[masked]", "user": "ada"}'],
    ['a long key-like string', 'key AKIAIOSFODNN7EXAMPLE0123456789abcdef used', 'key [masked] used'],
  ])('masks %s', (_kind, text, masked) => {
    expect(maskSecrets(text)).toBe(masked);
  });

  it.each([
    ['a hyphenated header', 'X-Api-Key: abc123secret', 'X-Api-Key: [masked]'],
    [
      'credentials in a URL',
      'connect postgres://app:Hunter2Pass@db:5432/app',
      'connect postgres://app:[masked]@db:5432/app',
    ],
    ['a cookie', 'Cookie: session=abc123', 'Cookie: [masked]'],
  ])('masks %s', (_kind, text, masked) => {
    expect(maskSecrets(text)).toBe(masked);
  });

  it('leaves hashes, UUIDs and long names alone', () => {
    const text =
      'commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 job 123e4567-e89b-12d3-a456-426614174000 test_user_registration_flow_works_fine';
    expect(maskSecrets(text)).toBe(text);
  });

  it('masks a task’s own env values wherever they appear', () => {
    expect(maskSecrets('using s3kr1t-value to connect', [], ['s3kr1t-value'])).toBe(
      'using [masked] to connect',
    );
  });

  it('masks values of configured key names too', () => {
    expect(maskSecrets('stripe_sk=live_abc', ['stripe_sk'])).toBe('stripe_sk=[masked]');
  });

  it.each([
    ['a double-quoted value with spaces', 'password="correct horse battery" ok', 'password="[masked]" ok'],
    ['a single-quoted value with spaces', "secret: 'two words' ok", "secret: '[masked]' ok"],
    ['an unclosed quote', 'token="abc def', 'token="[masked] def'],
  ])('masks %s whole', (_kind, text, masked) => {
    expect(maskSecrets(text)).toBe(masked);
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

  it('leaves ordinary output alone', () => {
    const text = 'Backed up 1234 rows to /var/backups/app-2026-11-23.dump in 3.2 s';
    expect(maskSecrets(text)).toBe(text);
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
