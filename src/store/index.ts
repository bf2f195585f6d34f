export * from './job-search.ts';
export * from './postgres/postgres-store.ts';
export * from './redis/redis-store.ts';
export * from './sqlite/sqlite-store.ts';
export * from './store.ts';
