export * from './handlers.ts';
export { checkWorkerOptions, WORKER_OPTION_KEYS, type WorkerOptions } from './options.ts';
export * from './outcome.ts';
export * from './shutdown.ts';
export * from './worker.ts';
