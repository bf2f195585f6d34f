import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postgresSchema } from '../../src/store/postgres/schema-dump.ts';
import { sqliteSchema } from '../../src/store/sqlite/schema-dump.ts';
import { engineUnderTest, POSTGRES_URL } from '../conformance/servers.ts';

const postgresAnswers = await engineUnderTest('PostgreSQL', POSTGRES_URL, 5432);

describe('committed schema dumps', () => {
  it('SQLite: matches what the migrations produce (run `npm run schema:dump` after adding one)', () => {
    const committed = readFileSync(new URL('../../src/store/sqlite/schema.sql', import.meta.url), 'utf8');
    expect(committed).toBe(sqliteSchema());
  });

  it.skipIf(!postgresAnswers)(
    'PostgreSQL: matches what the migrations produce (run `npm run schema:dump` after adding one)',
    async () => {
      const committed = readFileSync(new URL('../../src/store/postgres/schema.sql', import.meta.url), 'utf8');
      expect(committed).toBe(await postgresSchema(POSTGRES_URL));
    },
  );
});
