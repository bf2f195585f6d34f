import { createRequire } from 'node:module';

/**
 * The client libraries of the server engines, loaded on first use: an app on SQLite (or on one
 * server engine) never loads the other's (each costs a few MB of memory in every process). Both
 * are CommonJS packages, so `require` loads them synchronously, from a constructor.
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
