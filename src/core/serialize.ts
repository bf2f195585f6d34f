import { UnserializableError } from './errors.ts';
import { describeThrown } from './thrown.ts';

/** Deepest nesting a payload or result may have: deeper ones are refused, not stored. */
export const MAX_JSON_DEPTH = 1000;

/**
 * Turns a payload or result into JSON, refusing what JSON would silently change: functions,
 * symbols and `undefined` inside arrays (dropped or turned to null), bigints (throw), NaN and
 * Infinity (null), Maps and Sets (`{}`), class instances without `toJSON`, and cycles. Values that
 * cannot be read at all (a getter or `toJSON` that throws, a revoked proxy) and nesting deeper than
 * `MAX_JSON_DEPTH` are refused too. Every refusal is an `UnserializableError` naming where the
 * value is: `field` names the top of it, e.g. `payload.user.tags[2]`.
 */
export function toJson(value: unknown, field: string): string {
  if (value === undefined) return 'null';
  const walk = new Walk(field);
  let json: string | undefined;
  try {
    walk.check(value, '');
    // Getters run again here; one that throws only the second time is still caught below.
    json = JSON.stringify(value);
  } catch (error) {
    if (error instanceof UnserializableError) throw error;
    throw UnserializableError.unreadable(walk.where(), describeThrown(error));
  }
  if (json === undefined) throw new UnserializableError(field, value, 'has no JSON form');
  return json;
}

/**
 * One pass over a value as JSON.stringify will see it. The path to where it is looking is kept as a
 * stack of keys and turned into text only for an error, so a valid value costs no strings.
 */
class Walk {
  private readonly path: (string | number)[] = [];
  private readonly ancestors = new Set<object>();
  private readonly field: string;

  constructor(field: string) {
    this.field = field;
  }

  /** Checks one value as JSON.stringify will see it: after `toJSON`, if it has one. */
  check(value: unknown, key: string): void {
    let seen = value;
    if (typeof seen === 'object' && seen !== null) {
      const toJSON = (seen as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        seen = toJSON.call(seen, key);
        if (seen === undefined) throw this.refuse(value, 'has a toJSON() that returns undefined');
      }
    }
    if (typeof seen === 'object' && seen !== null) this.checkTree(seen);
    else this.checkScalar(seen);
  }

  private checkScalar(value: unknown): void {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(value)) throw this.refuse(value, 'is not a finite number');
        return;
      case 'bigint':
        throw this.refuse(value, 'is a bigint; pass it as a string');
      case 'function':
        throw this.refuse(value, 'is a function');
      case 'symbol':
        throw this.refuse(value, 'is a symbol');
    }
  }

  private checkTree(value: object): void {
    if (this.ancestors.has(value)) throw this.refuse('[circular]', 'refers back to itself');
    if (this.ancestors.size >= MAX_JSON_DEPTH) {
      throw this.refuse('[nested]', `is nested more than ${MAX_JSON_DEPTH} levels deep`);
    }
    this.ancestors.add(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        this.path.push(i);
        const item = value[i];
        if (item === undefined) throw this.refuse(item, 'would become null in JSON');
        this.check(item, String(i));
        this.path.pop();
      }
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        throw this.refuse(value, `is a ${kind}, not a plain object; convert it first`);
      }
      for (const key in value) {
        this.path.push(key);
        const item = (value as Record<string, unknown>)[key];
        // Undefined properties are dropped by JSON, which is what `{ a: undefined }` usually means.
        if (item !== undefined) this.check(item, key);
        this.path.pop();
      }
    }
    this.ancestors.delete(value);
  }

  private refuse(value: unknown, reason: string): UnserializableError {
    return new UnserializableError(this.where(), value, reason);
  }

  /** Where the walk is, as `payload.user.tags[2]`; a very deep path shows its two ends. */
  where(): string {
    const part = (key: string | number) => {
      if (typeof key === 'number') return `[${key}]`;
      const shown = key.length > 40 ? `${key.slice(0, 37)}...` : key;
      return /^[A-Za-z_$][\w$]*$/.test(shown) ? `.${shown}` : `[${JSON.stringify(shown)}]`;
    };
    const { path } = this;
    if (path.length <= 24) return this.field + path.map(part).join('');
    const head = path.slice(0, 8).map(part).join('');
    const tail = path.slice(-8).map(part).join('');
    return `${this.field}${head}…(${path.length - 16} levels)…${tail}`;
  }
}
