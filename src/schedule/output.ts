/**
 * What a task run prints, as it will be stored: secrets masked first, then cut to a size limit.
 * Masking happens before anything is stored or logged, so a token a command echoes never reaches
 * the database.
 */
import { wellFormed } from '../core/index.ts';

export interface OutputOptions {
  /** Keep at most this many bytes of output (the end is kept: errors come last). Default 64 KiB. */
  maxOutputBytes?: number;
  /** Names whose values are masked wherever they appear as `name=value` or `"name": "value"`. */
  secretKeys?: string[];
}

export const MASK = '[masked]';
const DEFAULT_MAX_OUTPUT = 64 * 1024;
const DEFAULT_SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'api-key',
  'apikey',
  'access_key',
  'private_key',
  'private-key',
  'cookie',
  'authorization',
];

// A JWT: three base64url parts, the first two starting with '{"' encoded. Anchored by a lookbehind
// on the part's own characters (not \b, which `-` would satisfy inside a run like `eyJ-eyJ-…`), so a
// run is tried from its start only and the pattern stays linear.
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
// Credentials inside a URL: scheme://user:password@host
const URL_PASSWORD = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi;
// name=value, name: value, "name": "value", name="a value with spaces". The name is tested in the
// callback, so the pattern has no nested repetition; a quoted value is bounded in length, so each
// attempt looks at most that far ahead and the whole runs in linear time over long output.
const ASSIGNMENT = /(?<![\w-])([\w-]+)(["']?\s*[:=]\s*)("[^"\n]{0,256}"|'[^'\n]{0,256}'|["']?[^\s"',;&]+)/g;
// Long runs of key-like characters (API keys, access tokens); the callback keeps runs without both
// letters and digits, and hashes and UUIDs. The lookbehind anchors each run once: linear time.
const KEY_LIKE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}/g;
const HASH_OR_UUID =
  /^(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** Replaces secrets in `text` with `[masked]`; also any of `secretValues` (a task's env values). */
export function maskSecrets(
  text: string,
  secretKeys: readonly string[] = DEFAULT_SECRET_KEYS,
  secretValues: readonly string[] = [],
): string {
  let masked = text;
  for (const value of secretValues) if (value.length >= 4) masked = masked.split(value).join(MASK);
  masked = masked
    .replace(JWT, MASK)
    .replace(BEARER, (_match, scheme: string) => `${scheme} ${MASK}`)
    .replace(
      URL_PASSWORD,
      (_match, before: string, _password: string, at: string) => `${before}${MASK}${at}`,
    );
  const names = secretKeys.map((key) => key.toLowerCase());
  masked = masked.replace(ASSIGNMENT, (match, key: string, separator: string, value: string) => {
    // `Authorization: Bearer …`: the scheme word stays, its token was masked above.
    if (/^(?:Bearer|Basic|Token)$/i.test(value)) return match;
    const lower = key.toLowerCase();
    if (!names.some((name) => lower.includes(name))) return match;
    const quote = /^["']/.test(value) ? value[0]! : '';
    const closed = quote !== '' && value.length > 1 && value.endsWith(quote);
    return `${key}${separator}${quote}${MASK}${closed ? quote : ''}`;
  });
  return masked.replace(KEY_LIKE, (run) =>
    /\d/.test(run) && /[A-Za-z]/.test(run) && !HASH_OR_UUID.test(run) ? MASK : run,
  );
}

/**
 * Collects output up to a byte budget, keeping the latest part when it overflows; `text()` masks
 * and marks what was cut.
 */
export class OutputBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = 0;
  private readonly limit: number;
  private readonly secretKeys: readonly string[];
  private readonly secretValues: readonly string[];

  constructor(options: OutputOptions = {}, secretValues: readonly string[] = []) {
    this.limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    this.secretKeys = [...DEFAULT_SECRET_KEYS, ...(options.secretKeys ?? [])];
    this.secretValues = secretValues;
  }

  write(chunk: Buffer | string): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(buffer);
    this.bytes += buffer.length;
    // Keep twice the limit before trimming, so a secret is not cut in half before it is masked.
    while (this.bytes - this.chunks[0]!.length >= this.limit * 2 && this.chunks.length > 1) {
      const first = this.chunks.shift()!;
      this.bytes -= first.length;
      this.dropped += first.length;
    }
  }

  /** The masked output, at most the byte limit, with a note of how much was cut. */
  text(): string {
    const collected = Buffer.concat(this.chunks);
    // After a drop, the first kept line may start in the middle of a secret whose name was dropped
    // (`word=hunter2` after `pass`): it goes too, and with it any half of a character.
    const partial = this.dropped > 0 ? afterFirstLine(collected) : 0;
    const text = collected.subarray(partial).toString('utf8');
    const masked = Buffer.from(maskSecrets(text, this.secretKeys, this.secretValues));
    const start = characterStart(masked, Math.max(0, masked.length - this.limit));
    const cut = this.dropped + partial + start;
    // NUL becomes U+FFFD, as in error messages (see storableText): what was printed reads the same
    // on every engine.
    const kept = wellFormed(masked.subarray(start).toString('utf8'));
    return cut > 0 ? `[${cut} bytes of earlier output cut]\n${kept}` : kept;
  }

  /** `text` with this output's secrets masked (for error messages stored beside the output). */
  mask(text: string): string {
    return maskSecrets(text, this.secretKeys, this.secretValues);
  }

  /** The most output worth reading from a source that could send more (a ping's answer). */
  get readLimit(): number {
    return this.limit * 2;
  }
}

/** Where the second line starts, or where the first whole character starts when there is one line. */
function afterFirstLine(buffer: Buffer): number {
  const newline = buffer.indexOf(0x0a);
  return newline >= 0 ? newline + 1 : characterStart(buffer, 0);
}

/** The first index at or after `index` that starts a UTF-8 character, so a cut never splits one. */
function characterStart(buffer: Buffer, index: number): number {
  let start = index;
  // Continuation bytes look like 10xxxxxx; a character has at most three of them.
  while (start < buffer.length && start < index + 3 && (buffer[start]! & 0xc0) === 0x80) start++;
  return start;
}
