export * from './admin/index.ts';
export * from './config.ts';
export * from './core/index.ts';
export * from './queue/index.ts';
export * from './schedule/index.ts';
export * from './store/index.ts';
export * from './sundial.ts';
export * from './worker/index.ts';
