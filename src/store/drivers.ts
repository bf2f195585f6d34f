import { createRequire } from 'node:module';
import { SundialError } from '../core/index.ts';

/**
 * The client libraries of the engines, loaded on first use: an app on SQLite (or on one server
 * engine) never loads the other's (each costs a few MB of memory in every process). They are
 * CommonJS packages or built-ins, so `require` loads them synchronously, from a constructor.
 */
const require = createRequire(import.meta.url);

let pgModule: typeof import('pg') | null = null;
let ioredisModule: typeof import('ioredis') | null = null;

export function pgDriver(): typeof import('pg') {
  pgModule ??= require('pg') as typeof import('pg');
  return pgModule;
}

export function ioredisDriver(): typeof import('ioredis') {
  ioredisModule ??= require('ioredis') as typeof import('ioredis');
  return ioredisModule;
}

let sqliteModule: typeof import('node:sqlite') | null = null;

/**
 * `node:sqlite`, built into Node.js since 22.13 (unflagged). Loaded only by the SQLite engine, so
 * an app on PostgreSQL or Redis imports Sundial on an older Node too; the SQLite engine there
 * refuses with a message that names the version it needs.
 */
export function sqliteDriver(): typeof import('node:sqlite') {
  if (sqliteModule) return sqliteModule;
  try {
    sqliteModule = require('node:sqlite') as typeof import('node:sqlite');
  } catch (error) {
    throw new SundialError(
      'SUNDIAL_NODE_TOO_OLD',
      `The SQLite store needs Node.js 22.13 or newer, for its built-in node:sqlite; this is Node.js ${process.versions.node}. Upgrade Node.js, or use the PostgreSQL or Redis store`,
      { cause: error },
    );
  }
  return sqliteModule;
}
