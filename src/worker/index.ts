export * from './handlers.ts';
export * from './outcome.ts';
export * from './shutdown.ts';
export * from './worker.ts';
