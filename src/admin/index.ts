export * from './admin.ts';
export * from './context.ts';
export * from './jobs.ts';
export * from './operations.ts';
export * from './queues.ts';
export * from './schedules.ts';
