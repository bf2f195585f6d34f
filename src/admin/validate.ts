import { createRequire } from 'node:module';
import type { z } from 'zod';
import { InvalidOptionError } from '../core/index.ts';

type Zod = typeof import('zod').z;

/**
 * One admin call's input: its zod schema (built on first use, so a process that never calls the
 * admin surface never loads zod) and, per field, what the field takes in words, for the error.
 */
export interface CallSchema<Output> {
  build(z: Zod): z.ZodType<Output>;
  expected: Record<string, string>;
}

const built = new WeakMap<CallSchema<unknown>, z.ZodType<unknown>>();
let zod: Zod | null = null;

/**
 * Checks an admin call's input against its schema: the parsed value, or an `InvalidOptionError`
 * that names the first wrong field (`filter.states.1`), the value given and what it takes.
 */
export function parseInput<Output>(schema: CallSchema<Output>, input: unknown): Output {
  zod ??= (createRequire(import.meta.url)('zod') as typeof import('zod')).z;
  let compiled = built.get(schema as CallSchema<unknown>) as z.ZodType<Output> | undefined;
  if (!compiled) {
    compiled = schema.build(zod);
    built.set(schema as CallSchema<unknown>, compiled);
  }
  const parsed = compiled.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  if (path.length === 0) throw new InvalidOptionError('input', input, 'an object of named fields');
  const field = path.map(String).join('.');
  const known = Object.keys(schema.expected).join(', ');
  const expected =
    issue.code === 'unrecognized_keys'
      ? `not a field of this call; known: ${known}`
      : (schema.expected[field] ?? schema.expected[String(path[0])] ?? issue.message);
  throw new InvalidOptionError(field, valueAt(input, path), expected);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}
