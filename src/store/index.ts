export * from './sqlite/sqlite-store.ts';
export * from './store.ts';
