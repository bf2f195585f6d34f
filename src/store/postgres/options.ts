import { InvalidOptionError } from '../../core/index.ts';
import type { PostgresStoreOptions } from './postgres-store.ts';

// Up to 55 characters: the NOTIFY channel is `sundial_<schema>`, and channel names stop at 63.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,54}$/;

export const OPTION_KEYS = [
  'connectionString',
  'schema',
  'poolSize',
  'onError',
  'handoff',
  'maintenanceVacuum',
];

export function checkOptions(options: PostgresStoreOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('store', options, 'an object of PostgreSQL store options');
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = `store.${key}`;
    switch (key) {
      case 'connectionString':
        if (typeof value !== 'string' || value === '')
          throw new InvalidOptionError(field, value, 'a postgres:// URL');
        break;
      case 'schema':
        if (typeof value !== 'string' || !SCHEMA_NAME.test(value))
          throw new InvalidOptionError(
            field,
            value,
            'a schema name of lowercase letters, digits and _ (up to 55)',
          );
        break;
      case 'poolSize':
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1000)
          throw new InvalidOptionError(field, value, 'a whole number from 1 to 1000');
        break;
      case 'onError':
        if (typeof value !== 'function') throw new InvalidOptionError(field, value, 'a function');
        break;
      case 'handoff':
        if (typeof value !== 'boolean') throw new InvalidOptionError(field, value, 'true or false');
        break;
      case 'maintenanceVacuum':
        if (
          typeof value !== 'boolean' &&
          !(Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 86_400_000)
        )
          throw new InvalidOptionError(
            field,
            value,
            'true, false, or ms between rounds from 100 to 86,400,000',
          );
        break;
      default:
        throw new InvalidOptionError(
          field,
          value,
          `not a PostgreSQL store option; known: ${OPTION_KEYS.join(', ')}`,
        );
    }
  }
}
