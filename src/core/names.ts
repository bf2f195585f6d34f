import { InvalidOptionError } from './errors.ts';

/** Queue and handler names end up in keys, URLs and metrics labels: keep them printable and short. */
const NAME = /^[A-Za-z0-9_.:@/-]{1,200}$/;

/** Whether `value` is a valid queue or handler name (what `checkName` accepts). */
export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME.test(value);
}

export function checkName(field: string, value: unknown): string {
  if (!isValidName(value)) {
    throw new InvalidOptionError(field, value, 'a name of 1 to 200 letters, digits or _ . : @ / -');
  }
  return value;
}
