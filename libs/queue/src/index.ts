export * from './queue';
export * from './queue-producers';
export * from './queue.module';
export * from './queue-processor';
export * from './queue-waits';
export * from './log-context';
