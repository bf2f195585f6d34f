export * from './cron-schedule.ts';
export * from './frequency.ts';
export * from './schedule.ts';
export * from './scheduler.ts';
export * from './task.ts';
export * from './time-queue.ts';
export * from './time-zone.ts';
