import type { ModelStream } from '@cibox/responses';

/** The model upstream as the api uses it. */
export interface ModelGateway {
  /** Throws an OpenAI-shaped error saying what to set when no upstream is configured. */
  assertConfigured(): void;
  stream: ModelStream;
  /** Sends a Chat Completions body upstream as it is (same retry rules) and returns the upstream's reply. */
  proxy(body: unknown, signal: AbortSignal): Promise<globalThis.Response>;
}

export const MODEL_GATEWAY = Symbol('MODEL_GATEWAY');
