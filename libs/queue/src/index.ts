export * from './queue';
export * from './queue-producers';
export * from './queue.module';
