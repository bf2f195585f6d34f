/**
 * Text a handler produced (error messages and stacks, task output), made storable the same way on
 * every engine before it is stored:
 *
 * - NUL characters become U+FFFD: PostgreSQL cannot store NUL in text or jsonb, and an outcome it
 *   refuses would be lost. SQLite and Redis could keep it; they get the same text so that a job
 *   reads the same wherever it ran.
 * - Unpaired surrogates (half of a UTF-16 pair, left by slicing a string through an emoji) become
 *   U+FFFD too: they are not valid Unicode, and PostgreSQL's jsonb refuses their escapes.
 * - Text over its bound is cut in the middle, keeping its start and its end (where an error's
 *   cause and a command's last lines are) with a note of how much was cut, so a 50 MB message
 *   cannot hold up every completion stored beside it.
 */

/** Longest error message stored, in UTF-16 characters. */
export const MAX_ERROR_MESSAGE_CHARS = 100_000;
/** Longest error stack stored, in UTF-16 characters. */
export const MAX_ERROR_STACK_CHARS = 20_000;

const REPLACEMENT = '\uFFFD';

/** `text` cut to `maxChars` (start and end kept) with NUL and unpaired surrogates replaced. */
export function storableText(text: string, maxChars: number): string {
  return wellFormed(cutMiddle(text, maxChars));
}

/** The text with NUL characters and unpaired surrogates replaced by U+FFFD. */
export function wellFormed(text: string): string {
  const replaced = text.includes('\0') ? text.replaceAll('\0', REPLACEMENT) : text;
  return replaced.isWellFormed() ? replaced : replaced.toWellFormed();
}

function cutMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const note = (cut: number) => `\n[... ${cut} characters cut ...]\n`;
  // The note's own length counts against the bound; the count it shows has no more digits than this.
  const keep = Math.max(0, maxChars - note(text.length).length);
  const head = Math.ceil(keep / 2);
  return text.slice(0, head) + note(text.length - keep) + text.slice(text.length - (keep - head));
}
