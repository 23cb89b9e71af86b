/** OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Base of every error a service may throw on purpose; the api's filter maps it to the wire. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class InvalidRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, message, 'invalid_request_error', param, code);
  }
}

export class AuthenticationError extends ApiError {
  constructor(message = 'Incorrect API key provided. Pass it as `Authorization: Bearer <key>`.') {
    super(401, message, 'invalid_request_error', null, 'invalid_api_key');
  }
}

export class PermissionDeniedError extends ApiError {
  constructor(message: string, code: string | null = null) {
    super(403, message, 'invalid_request_error', null, code);
  }
}

export class NotFoundError extends ApiError {
  constructor(kind: string, id: string) {
    super(404, `${kind} with id '${id}' not found.`, 'invalid_request_error', null, 'not_found');
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limitBytes: number) {
    super(413, `File exceeds the maximum upload size of ${limitBytes} bytes.`, 'invalid_request_error', 'file', 'file_too_large');
  }
}

export class ContainerExpiredError extends InvalidRequestError {
  constructor() {
    super('Container is expired.', null, 'container_expired');
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(message: string) {
    super(503, message, 'server_error', null, 'service_unavailable');
  }
}

/** The model upstream failed us (down, timed out, rejected our key, broke its stream): not the caller's fault. */
export class UpstreamError extends ApiError {
  constructor(message: string, code = 'upstream_error') {
    super(502, message, 'api_error', null, code);
  }
}

/** No model upstream is configured, so nothing that needs a model can run; the rest of the api works. */
export class ModelNotConfiguredError extends ApiError {
  constructor() {
    super(
      503,
      'No model upstream is configured: set MODEL_BASE_URL (and MODEL_API_KEY) or MODELS_FILE.',
      'server_error',
      'model',
      'model_not_configured',
    );
  }
}

/** A model name that no route of the models file matches (and there is no default upstream). */
export class ModelNotFoundError extends ApiError {
  constructor(model: string) {
    super(404, `The model '${model}' does not exist or is not configured on this server.`, 'invalid_request_error', 'model', 'model_not_found');
  }
}

/**
 * Over one of the tenant's limits: 429 `rate_limit_exceeded`, with OpenAI's `x-ratelimit-*` headers
 * (`suffix` is `requests`, `containers` or `executions`) and `retry-after` in seconds.
 */
export class RateLimitError extends ApiError {
  readonly headers: Record<string, string>;

  constructor(message: string, suffix: string, limit: number, resetMs: number) {
    super(429, message, 'requests', null, 'rate_limit_exceeded');
    const resetS = Math.max(1, Math.ceil(resetMs / 1000));
    this.headers = {
      [`x-ratelimit-limit-${suffix}`]: String(limit),
      [`x-ratelimit-remaining-${suffix}`]: '0',
      [`x-ratelimit-reset-${suffix}`]: `${resetS}s`,
      'retry-after': String(resetS),
    };
  }
}

/**
 * No worker has room for a new container (containers or memory: `WORKER_MAX_CONTAINERS`,
 * `WORKER_MAX_MEMORY`). A 429 like OpenAI's own for an overloaded engine, with its own code so a
 * client can tell it from a tenant's limit (`rate_limit_exceeded`).
 */
export class CapacityError extends ApiError {
  constructor(memoryLimit: string) {
    super(
      429,
      `The workers are at capacity: none has room for another container with memory_limit '${memoryLimit}'. Delete a container or try again later.`,
      'server_error',
      null,
      'capacity_exceeded',
    );
  }
}
