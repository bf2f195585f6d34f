import { UnserializableError } from './errors.ts';

/**
 * Turns a payload or result into JSON, refusing what JSON would silently change: functions,
 * symbols and `undefined` inside arrays (dropped or turned to null), bigints (throw), NaN and
 * Infinity (null), Maps and Sets (`{}`), class instances without `toJSON`, and cycles.
 * `field` names the top of the value in errors, e.g. `payload.user.tags[2]`.
 */
export function toJson(value: unknown, field: string): string {
  if (value === undefined) return 'null';
  check(value, field, '', new Set());
  return JSON.stringify(value);
}

/** Checks one value as JSON.stringify will see it: after `toJSON`, if it has one. */
function check(value: unknown, path: string, key: string, ancestors: Set<object>): void {
  let seen = value;
  if (
    typeof seen === 'object' &&
    seen !== null &&
    typeof (seen as { toJSON?: unknown }).toJSON === 'function'
  ) {
    seen = (seen as { toJSON(key: string): unknown }).toJSON(key);
    if (seen === undefined)
      throw new UnserializableError(path, value, 'has a toJSON() that returns undefined');
  }
  if (typeof seen === 'object' && seen !== null) checkTree(seen, path, ancestors);
  else checkScalar(seen, path);
}

function checkScalar(value: unknown, path: string): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new UnserializableError(path, value, 'is not a finite number');
      return;
    case 'bigint':
      throw new UnserializableError(path, value, 'is a bigint; pass it as a string');
    case 'function':
      throw new UnserializableError(path, value, 'is a function');
    case 'symbol':
      throw new UnserializableError(path, value, 'is a symbol');
  }
}

function checkTree(value: object, path: string, ancestors: Set<object>): void {
  if (ancestors.has(value)) throw new UnserializableError(path, '[circular]', 'refers back to itself');
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const itemPath = `${path}[${i}]`;
      if (item === undefined) throw new UnserializableError(itemPath, item, 'would become null in JSON');
      check(item, itemPath, String(i), ancestors);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw new UnserializableError(path, value, `is a ${kind}, not a plain object; convert it first`);
    }
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      // Undefined properties are dropped by JSON, which is what `{ a: undefined }` usually means.
      if (item === undefined) continue;
      check(item, `${path}.${key}`, key, ancestors);
    }
  }
  ancestors.delete(value);
}
