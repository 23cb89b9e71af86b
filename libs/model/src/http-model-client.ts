import { InvalidRequestError, UpstreamError } from '@cibox/contracts';
import { parseChatChunk, type ChatChunk, type ChatRequest, type ModelObject } from './chat';
import type { ModelClient } from './model-client';
import type { ModelRouter, Upstream } from './model-routes';
import { SseDecoder } from './sse';
import { AttemptFailure, UpstreamCall, errorMessageOf } from './upstream-call';

export interface ModelClientLimits {
  /** Time allowed for the first byte and between two chunks. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Back-off before retry n is min(maxDelayMs, initialDelayMs * 2^n), less up to 25% jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** A `retry-after` longer than this is not waited for; our own back-off applies instead (as in the official SDKs). */
const MAX_RETRY_AFTER_MS = 60_000;
/** Listing models is a convenience: a slow upstream does not hold up `GET /v1/models` for long. */
const LIST_TIMEOUT_MS = 10_000;

/** The ModelClient for OpenAI-compatible Chat Completions servers, over Node's fetch. */
export class HttpModelClient implements ModelClient {
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly router: ModelRouter,
    private readonly limits: ModelClientLimits,
  ) {
    this.initialDelayMs = limits.initialDelayMs ?? 500;
    this.maxDelayMs = limits.maxDelayMs ?? 8_000;
  }

  configured(): boolean {
    return this.router.configured();
  }

  async *stream(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatChunk> {
    const target = this.router.resolve(request.model);
    const body: ChatRequest = withTokenLimitField(
      { ...request, model: target.model, stream: true, stream_options: { ...request.stream_options, include_usage: true } },
      target.upstream,
    );
    for (let attempt = 0; ; attempt++) {
      const call = new UpstreamCall(target.upstream, this.limits.timeoutMs, signal);
      let started = false;
      let failure: unknown;
      try {
        const res = await call.send('POST', '/chat/completions', body, 'text/event-stream');
        for await (const chunk of readChunks(call, res)) {
          started = true;
          yield chunk;
        }
        return;
      } catch (err) {
        failure = err;
      } finally {
        call.close();
      }
      await this.beforeRetry(failure, target.upstream, attempt, started, signal);
    }
  }

  async proxy(request: ChatRequest, signal?: AbortSignal): Promise<Response> {
    const target = this.router.resolve(request.model);
    const body: ChatRequest = { ...request, model: target.model };
    for (let attempt = 0; ; attempt++) {
      const call = new UpstreamCall(target.upstream, this.limits.timeoutMs, signal);
      try {
        const res = await call.send('POST', '/chat/completions', body, request.stream ? 'text/event-stream' : 'application/json');
        return relay(call, res, (err) => toApiError(err, target.upstream, attempt + 1, true));
      } catch (err) {
        call.close();
        await this.beforeRetry(err, target.upstream, attempt, false, signal);
      }
    }
  }

  async listModels(signal?: AbortSignal): Promise<ModelObject[]> {
    const listed = new Map<string, ModelObject>();
    for (const route of this.router.routes) {
      if (!route.id.endsWith('*')) listed.set(route.id, { id: route.id, object: 'model', created: this.router.created, owned_by: route.ownedBy });
    }
    if (this.router.fallback) {
      for (const model of await this.upstreamModels(this.router.fallback, signal)) if (!listed.has(model.id)) listed.set(model.id, model);
    }
    return [...listed.values()];
  }

  private async upstreamModels(upstream: Upstream, signal?: AbortSignal): Promise<ModelObject[]> {
    const call = new UpstreamCall(upstream, Math.min(this.limits.timeoutMs, LIST_TIMEOUT_MS), signal);
    try {
      const res = await call.send('GET', '/models');
      let text = '';
      const decoder = new TextDecoder();
      for await (const bytes of call.bytes(res)) text += decoder.decode(bytes, { stream: true });
      const data = (JSON.parse(text) as { data?: unknown }).data;
      if (!Array.isArray(data)) return [];
      const host = new URL(upstream.baseUrl).host;
      return data
        .filter((m): m is { id: string; created?: unknown; owned_by?: unknown } => typeof (m as { id?: unknown })?.id === 'string')
        .map((m) => ({
          id: m.id,
          object: 'model' as const,
          created: typeof m.created === 'number' ? m.created : 0,
          owned_by: typeof m.owned_by === 'string' ? m.owned_by : host,
        }));
    } catch (err) {
      if (signal?.aborted) throw err;
      // An upstream that cannot list its models (or has no such route) still serves them.
      return [];
    } finally {
      call.close();
    }
  }

  /** Waits before the next attempt, or throws the error this failure ends in. */
  private async beforeRetry(failure: unknown, upstream: Upstream, attempt: number, started: boolean, signal?: AbortSignal): Promise<void> {
    const retry = failure instanceof AttemptFailure && failure.retryable && !started && attempt < this.limits.maxRetries && !signal?.aborted;
    if (!retry) throw toApiError(failure, upstream, attempt + 1, started);
    const backoff = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt) * (1 - Math.random() * 0.25);
    const asked = failure.retryAfterMs;
    await sleep(asked !== null && asked <= MAX_RETRY_AFTER_MS ? asked : backoff, signal);
  }
}

/** The chunks of an SSE body, up to `data: [DONE]`; error frames and broken streams become AttemptFailures. */
async function* readChunks(call: UpstreamCall, res: Response): AsyncGenerator<ChatChunk> {
  const sse = new SseDecoder();
  let finished = false;
  async function* events() {
    for await (const bytes of call.bytes(res)) yield* sse.push(bytes);
    yield* sse.end();
  }
  for await (const event of events()) {
    if (event.data === '[DONE]') return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      throw new AttemptFailure('stream', `sent a stream event that is not JSON: ${call.redact(event.data.slice(0, 200))}`, false);
    }
    if (json && typeof json === 'object' && 'error' in json) {
      throw new AttemptFailure('stream', `sent an error: ${call.redact(errorMessageOf(event.data).message)}`, false);
    }
    const chunk = parseChatChunk(json);
    if (!chunk) throw new AttemptFailure('stream', `sent a malformed chunk: ${call.redact(event.data.slice(0, 200))}`, false);
    if (chunk.choices.some((c) => c.finish_reason)) finished = true;
    yield chunk;
  }
  // Some servers close without [DONE]; that is an end only if the completion had finished.
  if (!finished) throw new AttemptFailure('stream', 'closed its stream before the completion finished', true);
}

/** A Response carrying the upstream's status, content type and body, closing the call when the body ends or is cancelled. */
function relay(call: UpstreamCall, res: Response, onError: (err: unknown) => unknown): Response {
  const bytes = call.bytes(res);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const step = await bytes.next();
        if (step.done) {
          call.close();
          controller.close();
        } else controller.enqueue(step.value);
      } catch (err) {
        call.close();
        controller.error(onError(err));
      }
    },
    async cancel() {
      await bytes.return(undefined);
      call.close();
    },
  });
  const headers = new Headers();
  const type = res.headers.get('content-type');
  if (type) headers.set('content-type', type);
  return new Response(body, { status: res.status, headers });
}

/** The api error a final failure becomes; the caller's abort reason and unknown errors pass through. */
function toApiError(err: unknown, upstream: Upstream, attempts: number, started: boolean): unknown {
  if (!(err instanceof AttemptFailure)) return err;
  const at = `The model upstream at ${new URL(upstream.baseUrl).host}`;
  if (started) return new UpstreamError(`${at} failed mid-stream: ${err.message}.`, 'upstream_stream_error');
  if (err.kind === 'stream' && !err.retryable) return new UpstreamError(`${at} ${err.message}.`, 'upstream_stream_error');
  if (err.status === 401 || err.status === 403) {
    return new UpstreamError(`${at} rejected our credentials (${err.message}); check ${upstream.keySource}.`, 'upstream_auth_failed');
  }
  if (err.status !== null && !err.retryable) {
    return new InvalidRequestError(`${at} rejected the request (${err.message}).`, null, err.code ?? 'upstream_rejected');
  }
  return new UpstreamError(`${at} did not answer: ${err.message} (${attempts} attempt${attempts === 1 ? '' : 's'}).`, 'upstream_unavailable');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The tool loop limits output with `max_tokens`, which every OpenAI-compatible server knows; OpenAI
 * itself refuses it for its reasoning models and wants `max_completion_tokens`, which all its chat
 * models take. So for OpenAI's own API the field is renamed.
 */
export function withTokenLimitField(body: ChatRequest, upstream: { baseUrl: string }): ChatRequest {
  if (body.max_tokens == null || body.max_completion_tokens != null) return body;
  let host = '';
  try {
    host = new URL(upstream.baseUrl).hostname;
  } catch {
    return body;
  }
  if (host !== 'api.openai.com') return body;
  const { max_tokens, ...rest } = body;
  return { ...rest, max_completion_tokens: max_tokens };
}
