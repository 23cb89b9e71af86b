/** Nest injection tokens of the storage ports. */
export const OBJECT_STORE = Symbol('OBJECT_STORE');
export const REDIS = Symbol('REDIS');
