export * from './kernel-protocol';
export * from './kernel-session';
export * from './sandbox-driver';
export * from './docker-sandbox.driver';
export * from './seccomp-profile';
