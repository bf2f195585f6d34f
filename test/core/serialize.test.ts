import { describe, expect, it } from 'vitest';
import { toJson, UnserializableError } from '../../src/core/index.ts';

function refusal(value: unknown): UnserializableError {
  try {
    toJson(value, 'payload');
  } catch (error) {
    if (error instanceof UnserializableError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('payload serialisation', () => {
  it('stores plain JSON values as JSON', () => {
    expect(toJson({ a: [1, 'x', true, null, { b: 2 }] }, 'payload')).toBe('{"a":[1,"x",true,null,{"b":2}]}');
    expect(toJson(undefined, 'payload')).toBe('null');
    expect(toJson({ at: new Date(0) }, 'payload')).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(toJson({ dropped: undefined, kept: 1 }, 'payload')).toBe('{"kept":1}');
  });

  it.each([
    ['a function', { user: { notify: () => 1 } }, 'payload.user.notify'],
    ['a bigint', { id: 10n }, 'payload.id'],
    ['NaN', { n: Number.NaN }, 'payload.n'],
    ['Infinity', [1, Number.POSITIVE_INFINITY], 'payload[1]'],
    ['a Map', { m: new Map() }, 'payload.m'],
    ['a class instance', { x: new (class Point {})() }, 'payload.x'],
    ['undefined in an array', [1, undefined], 'payload[1]'],
    ['a symbol', Symbol('s'), 'payload'],
  ])('refuses %s and names where it is', (_kind, value, field) => {
    const error = refusal(value);
    expect(error.code).toBe('SUNDIAL_UNSERIALIZABLE');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('checks what toJSON() returns, as JSON.stringify would store it', () => {
    expect(toJson({ at: { toJSON: () => ({ n: 1 }) } }, 'payload')).toBe('{"at":{"n":1}}');
    expect(refusal({ toJSON: () => undefined }).field).toBe('payload');
    expect(refusal({ nested: { toJSON: () => undefined } }).field).toBe('payload.nested');
    expect(refusal({ wrapped: { toJSON: () => new Map() } }).field).toBe('payload.wrapped');
    expect(refusal({ big: { toJSON: () => 5n } }).field).toBe('payload.big');
  });

  it('refuses cycles', () => {
    const node: Record<string, unknown> = { name: 'a' };
    node.self = node;
    expect(refusal({ node }).field).toBe('payload.node.self');
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(toJson({ a: shared, b: shared }, 'payload')).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});
