import { readdirSync, readFileSync } from 'node:fs';
import type { PoolClient } from 'pg';
import { SundialError } from '../../core/index.ts';

/**
 * The PostgreSQL schema's versioned changes: one file per change under `migrations/`, one SQL
 * statement per file (so each applies on its own, and a failure names its file), numbered in the
 * order they apply. `{schema}` stands for the store's schema name. Never edit a released file: add
 * the next number. The committed dump (`schema.sql`) must match; a test compares them.
 */
export interface PgMigration {
  version: number;
  file: string;
  sql: string;
}

const FOLDER = new URL('./migrations/', import.meta.url);

let loaded: PgMigration[] | null = null;

export function pgMigrations(): PgMigration[] {
  loaded ??= readdirSync(FOLDER)
    .filter((file) => /^\d{4}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      file,
      sql: readFileSync(new URL(file, FOLDER), 'utf8'),
    }));
  // Two files with one number would both run, or fail halfway on the version's primary key.
  const clash = loaded.find((migration, i) => i > 0 && migration.version === loaded![i - 1]!.version);
  if (clash) {
    throw new Error(
      `Two PostgreSQL migrations are numbered ${clash.version} in ${FOLDER.pathname}: remove the stale one`,
    );
  }
  return loaded;
}

/** The statement of a migration for a schema (an identifier already checked and quoted). */
export function migrationSql(migration: PgMigration, quotedSchema: string): string {
  return migration.sql.replaceAll('{schema}', quotedSchema);
}

/**
 * Brings the schema up to date inside one transaction, holding an advisory lock for the schema so
 * processes starting together wait for each other instead of racing.
 */
export async function migratePostgres(
  client: PoolClient,
  schema: string,
  quotedSchema: string,
): Promise<void> {
  // Up to date already (the usual start): no DDL, so a role with only data privileges can start.
  const latest = pgMigrations().at(-1)!.version;
  try {
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${quotedSchema}.migrations`,
    );
    if (rows[0]?.v === latest) return;
  } catch {
    // No schema or no migrations table yet: migrate below.
  }
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sundial:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quotedSchema}.migrations (
      version integer PRIMARY KEY,
      file text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${quotedSchema}.migrations`,
    );
    const current = rows[0]?.v ?? 0;
    const all = pgMigrations();
    if (current > latest) {
      throw new SundialError(
        'SUNDIAL_SCHEMA_TOO_NEW',
        `Schema ${schema} is at version ${current}, newer than this Sundial knows (${latest}): upgrade Sundial`,
      );
    }
    for (const migration of all) {
      if (migration.version <= current) continue;
      try {
        await client.query(migrationSql(migration, quotedSchema));
      } catch (error) {
        throw new SundialError(
          'SUNDIAL_MIGRATION_FAILED',
          `Migration ${migration.file} failed on schema ${schema}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await client.query(`INSERT INTO ${quotedSchema}.migrations (version, file) VALUES ($1, $2)`, [
        migration.version,
        migration.file,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
