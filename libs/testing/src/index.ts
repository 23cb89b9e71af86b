export * from './stack';
export * from './eventually';
export * from './fake-sandbox-driver';
