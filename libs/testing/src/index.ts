export * from './stack';
export * from './eventually';
