import type { ChatChunk, ChatRequest, ModelObject } from './chat';

/**
 * The port in front of the model upstreams. Errors are the api's typed errors (`@cibox/contracts`):
 * `ModelNotConfiguredError` (503) with no upstream, `ModelNotFoundError` (404) for a name no route
 * takes, `InvalidRequestError` (400) when the upstream refused the request, `UpstreamError` (502)
 * when it rejected our key, stayed down past the retries, timed out or broke its stream. An abort
 * through the caller's signal rejects with the signal's reason, at once and without retrying.
 */
export interface ModelClient {
  /** Whether any upstream is configured (MODEL_BASE_URL or MODELS_FILE). */
  configured(): boolean;

  /**
   * Streams a completion: `POST {base}/chat/completions` with `stream: true` and usage included,
   * the request's `model` mapped by its route. Failures before the first chunk are retried
   * (429, 408, 409, 5xx, connection errors, timeouts); once a chunk was yielded, a failure is thrown.
   */
  stream(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatChunk>;

  /**
   * Sends the request as it is (only `model` mapped) and resolves with the upstream's 2xx reply,
   * after the same retry rules, for the api to relay: status, `content-type` and a body that still
   * has the between-chunk timeout and errors if the upstream breaks off.
   */
  proxy(request: ChatRequest, signal?: AbortSignal): Promise<Response>;

  /**
   * The models to list on `GET /v1/models`: the models file's exact ids, then (when MODEL_BASE_URL
   * is set) what the default upstream lists at `GET {base}/models`, or nothing from it if that fails.
   */
  listModels(signal?: AbortSignal): Promise<ModelObject[]>;
}

/** Injection token of the ModelClient in Nest apps. */
export const MODEL_CLIENT = Symbol('MODEL_CLIENT');
