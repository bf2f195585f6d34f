/**
 * What a task run prints, as it will be stored: secrets masked first (see `Masker`), then cut to a
 * size limit. Masking happens before anything is stored or logged, so a token a command echoes
 * never reaches the database.
 */
import { defaultMasker, type Masker, wellFormed } from '../core/index.ts';

export interface OutputOptions {
  /** Keep at most this many bytes of output (the end is kept: errors come last). Default 64 KiB. */
  maxOutputBytes?: number;
  /**
   * More key names whose values are masked (`name=value`, `"name": "value"`, `--name value`) in this
   * task worker's runs, beside the built-in ones and the Sundial's `mask.keys`.
   */
  secretKeys?: string[];
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;

/**
 * Collects output up to a byte budget, keeping the latest part when it overflows; `text()` masks
 * and marks what was cut.
 */
export class OutputBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = 0;
  private readonly limit: number;
  private readonly masker: Masker;
  private readonly secretValues: readonly string[];

  /** `secretValues` are masked wherever they appear (a command's environment values). */
  constructor(options: OutputOptions = {}, secretValues: readonly string[] = [], masker = defaultMasker) {
    this.limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    this.masker = masker.withKeys(options.secretKeys ?? [], 'secretKeys');
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
    const masked = Buffer.from(this.masker.mask(text, this.secretValues));
    const start = characterStart(masked, Math.max(0, masked.length - this.limit));
    const cut = this.dropped + partial + start;
    // NUL becomes U+FFFD, as in error messages (see storableText): what was printed reads the same
    // on every engine.
    const kept = wellFormed(masked.subarray(start).toString('utf8'));
    return cut > 0 ? `[${cut} bytes of earlier output cut]\n${kept}` : kept;
  }

  /** `text` with this output's secrets masked (for error messages stored beside the output). */
  mask(text: string): string {
    return this.masker.mask(text, this.secretValues);
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
