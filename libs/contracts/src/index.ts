export * from './errors';
export * from './ids';
export * from './objects';
export * from './schemas';
export * from './execution';
export * from './file-links';
export * from './batches';
