/**
 * What a task run prints, as it will be stored: secrets masked first, then cut to a size limit.
 * Masking happens before anything is stored or logged, so a token a command echoes never reaches
 * the database.
 */

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
  'apikey',
  'access_key',
  'private_key',
];

// A JWT: three base64url parts, the first two starting with '{"' encoded.
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
// Long runs of key-like characters mixing letters and digits (API keys, access tokens).
const KEY_LIKE = /\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b/g;

/** Replaces secrets in `text` with `[masked]`. */
export function maskSecrets(text: string, secretKeys: readonly string[] = DEFAULT_SECRET_KEYS): string {
  let masked = text.replace(JWT, MASK).replace(BEARER, (_match, scheme: string) => `${scheme} ${MASK}`);
  if (secretKeys.length > 0) {
    const names = secretKeys.map(escapeRegExp).join('|');
    // name=value, name: value, "name": "value" (the name may be part of a longer one: DB_PASSWORD).
    const assignment = new RegExp(
      `(\\b[\\w-]*(?:${names})[\\w-]*["']?\\s*[:=]\\s*["']?)([^\\s"',;&]+)`,
      'gi',
    );
    masked = masked.replace(assignment, (_match, prefix: string) => `${prefix}${MASK}`);
  }
  return masked.replace(KEY_LIKE, MASK);
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

  constructor(options: OutputOptions = {}) {
    this.limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    this.secretKeys = [...DEFAULT_SECRET_KEYS, ...(options.secretKeys ?? [])];
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
    const masked = Buffer.from(maskSecrets(Buffer.concat(this.chunks).toString('utf8'), this.secretKeys));
    const cut = this.dropped + Math.max(0, masked.length - this.limit);
    const kept = masked.subarray(Math.max(0, masked.length - this.limit)).toString('utf8');
    return cut > 0 ? `[${cut} bytes of earlier output cut]\n${kept}` : kept;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
