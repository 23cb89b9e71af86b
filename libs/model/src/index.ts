import type { ModelClient } from './model-client';
import { HttpModelClient, type ModelClientLimits } from './http-model-client';
import { loadModelRouter, type ModelConfig } from './model-routes';

export * from './chat';
export * from './model-client';
export { HttpModelClient, type ModelClientLimits } from './http-model-client';
export { ModelRouter, loadModelRouter, modelsFileSchema, type ModelConfig, type ModelRoute, type ModelTarget, type Upstream } from './model-routes';
export { SseDecoder, type SseEvent } from './sse';

/**
 * The ModelClient for `config.model` (AppConfig's MODEL_* settings), without Nest. Reads and
 * validates MODELS_FILE now, so a bad file stops the start with a ConfigError naming file and field.
 * `env` is where a route's `api_key_env` is looked up; `backoff` shortens retry delays in tests.
 */
export function createModelClient(
  config: ModelConfig,
  opts: { env?: NodeJS.ProcessEnv; backoff?: Pick<ModelClientLimits, 'initialDelayMs' | 'maxDelayMs'> } = {},
): ModelClient {
  return new HttpModelClient(loadModelRouter(config, opts.env), { timeoutMs: config.timeoutMs, maxRetries: config.maxRetries, ...opts.backoff });
}
