export * from './chat';
export * from './citations';
export * from './code-arguments';
export * from './input';
export * from './request';
export * from './response-run';
export * from './tool-result';
export * from './wire';
