import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sqliteSchema } from '../src/store/sqlite/schema-dump.ts';

describe('committed schema dump', () => {
  it('matches what the SQLite migrations produce (run `npm run schema:dump` after adding one)', () => {
    const committed = readFileSync(new URL('../src/store/sqlite/schema.sql', import.meta.url), 'utf8');
    expect(committed).toBe(sqliteSchema());
  });
});
