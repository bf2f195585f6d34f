export * from './backoff.ts';
export * from './context.ts';
export * from './options.ts';
export * from './queue.ts';
