export * from './config';
export * from './keys-file';
