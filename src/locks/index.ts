export * from './file-lock-engine.ts';
export * from './lock-engine.ts';
export * from './lock-provider.ts';
