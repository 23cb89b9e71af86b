export * from './object-store';
export * from './minio-object-store';
export * from './redis-records';
export * from './repositories';
export * from './tokens';
export * from './storage.module';
export * from './execution.repository';
export * from './worker-registry';
