export * from './batcher.ts';
export * from './clock.ts';
export * from './duration.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './ids.ts';
export * from './job.ts';
export * from './serialize.ts';
