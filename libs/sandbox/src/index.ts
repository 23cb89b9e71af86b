export * from './kernel-protocol';
export * from './kernel-session';
export * from './sandbox-driver';
export * from './docker-sandbox.driver';
export * from './seccomp-profile';
// The tiers are a contract (the api reserves them on workers); the driver's users find them here too.
export { MEMORY_TIER_BYTES } from '@cibox/contracts';
