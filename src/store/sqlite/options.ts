import { InvalidOptionError } from '../../core/index.ts';
import type { SqliteStoreOptions } from './sqlite-store.ts';

const OPTION_KEYS = [
  'path',
  'synchronous',
  'busyTimeoutMs',
  'checkpointIntervalMs',
  'wakeSignal',
  'onError',
  'allowOtherTables',
];

/** Refuses bad options, naming the field (`store.path`); exported for config checks. */
export function checkSqliteStoreOptions(options: SqliteStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('store', options, 'an object of SQLite store options');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = `store.${key}`;
    switch (key) {
      case 'path':
        if (typeof value !== 'string' || value === '')
          throw new InvalidOptionError(field, value, 'a file path');
        break;
      case 'synchronous':
        if (value !== 'normal' && value !== 'full')
          throw new InvalidOptionError(field, value, "'normal' or 'full'");
        break;
      case 'busyTimeoutMs':
      case 'checkpointIntervalMs':
        if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 3_600_000) {
          throw new InvalidOptionError(field, value, 'a whole number of milliseconds from 0 to 3600000');
        }
        break;
      case 'wakeSignal':
      case 'allowOtherTables':
        if (typeof value !== 'boolean') throw new InvalidOptionError(field, value, 'true or false');
        break;
      case 'onError':
        if (typeof value !== 'function') throw new InvalidOptionError(field, value, 'a function');
        break;
      default:
        throw new InvalidOptionError(
          field,
          value,
          `not a SQLite store option; known: ${OPTION_KEYS.join(', ')}`,
        );
    }
  }
}
