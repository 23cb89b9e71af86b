export * from './events';
export * from './schemas';
export * from './signing';
export * from './public-address';
export * from './webhook-sender';
