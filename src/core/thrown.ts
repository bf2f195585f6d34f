/**
 * Reading what a handler threw or returned, without ever throwing ourselves. A handler can throw
 * anything: an error whose `message` getter throws, a revoked proxy, a symbol, an object whose
 * `toString` throws. Every read below is guarded, so such a value still ends its attempt with a
 * readable description instead of taking the worker down with it.
 */

/** What was thrown, as text that is safe to store and show. */
export interface ThrownDescription {
  /** The error's `name`, or `NonError` for a thrown value that is not an `Error`. */
  name: string;
  message: string;
  stack?: string;
}

/** Longest `name` kept: it is a label, not a place for text. */
const MAX_NAME_CHARS = 200;

/** Whether `value` is an `Error`; false for anything that cannot even be asked (a revoked proxy). */
export function isErrorSafely(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** Describes any thrown value. Never throws. */
export function describeThrown(thrown: unknown): ThrownDescription {
  if (isErrorSafely(thrown)) {
    const name = readText(() => thrown.name) ?? 'Error';
    const description: ThrownDescription = {
      name: name.length > MAX_NAME_CHARS ? name.slice(0, MAX_NAME_CHARS) : name,
      message: readText(() => thrown.message) ?? '[the error message could not be read]',
    };
    const stack = readText(() => thrown.stack);
    if (stack !== undefined) description.stack = stack;
    return description;
  }
  return { name: 'NonError', message: describeNonError(thrown) };
}

/** The text of a value that is not an `Error`. */
function describeNonError(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'symbol':
      // String() of a symbol is allowed (a template literal of one throws).
      return `thrown value: ${String(value)}`;
    case 'function':
      return `thrown value: function ${readText(() => value.name) || '(anonymous)'}`;
    case 'object':
      if (value === null) return 'thrown value: null';
      return `thrown value: ${objectText(value)}`;
    default:
      return `thrown value: ${String(value)}`;
  }
}

/** JSON if it can be had, else its `toString()`, else a plain note; never throws. */
function objectText(value: object): string {
  try {
    const json = JSON.stringify(value);
    if (typeof json === 'string') return json;
  } catch {
    // A cycle, a bigint, a throwing getter or toJSON, a revoked proxy: try its string form.
  }
  return readText(() => String(value)) ?? '[an object that cannot be read]';
}

/**
 * Calls a getter; a string comes back as it is, anything else as its string form, and whatever
 * throws (the getter, or turning its value into text) as undefined.
 */
export function readText(read: () => unknown): string | undefined {
  try {
    const value = read();
    if (value === undefined) return undefined;
    return typeof value === 'string' ? value : String(value);
  } catch {
    return undefined;
  }
}
