export * from './config';
export * from './keys-file';
export * from './docker-host';
