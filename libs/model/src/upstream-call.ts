import type { Upstream } from './model-routes';

/** Why one attempt at the upstream failed, and whether another attempt may help. */
export class AttemptFailure extends Error {
  constructor(
    readonly kind: 'status' | 'network' | 'timeout' | 'stream',
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
    /** The upstream's `retry-after` (or `retry-after-ms`), when it gave one. */
    readonly retryAfterMs: number | null = null,
    /** The upstream's own error code, when its error body had one. */
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** Statuses the official SDKs retry: request timeout, lock conflict, rate limit and server errors. */
export const isRetryableStatus = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

const MAX_ERROR_BODY_CHARS = 64 * 1024;

/**
 * One HTTP exchange with an upstream. A deadline of `timeoutMs` runs until the response headers
 * and is restarted by every chunk of the body, so a silent upstream is cut off and a slow but live
 * stream is not. The caller's signal aborts at once; `close()` ends everything the call holds.
 */
export class UpstreamCall {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private readonly onAbort = () => this.controller.abort(this.signal?.reason);

  constructor(
    private readonly upstream: Upstream,
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    // A signal already aborted fires no event: the call is aborted before it starts.
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Sends the request; resolves with a 2xx response, or rejects with an AttemptFailure (or the caller's abort reason). */
  async send(method: 'GET' | 'POST', path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.upstream.apiKey) headers.authorization = `Bearer ${this.upstream.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    this.arm();
    let res: Response;
    try {
      res = await fetch(`${this.upstream.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: this.controller.signal,
      });
    } catch (err) {
      throw this.failure(err);
    }
    if (res.ok) return res;
    const text = await this.readText(res).catch(() => '');
    const { message, code } = errorMessageOf(text);
    throw new AttemptFailure(
      'status',
      `HTTP ${res.status}${message ? `: ${this.redact(message)}` : ''}`,
      isRetryableStatus(res.status),
      res.status,
      retryAfterMs(res.headers),
      code,
    );
  }

  /** The body's bytes as they arrive, each one restarting the deadline. */
  async *bytes(res: Response): AsyncGenerator<Uint8Array> {
    if (!res.body) return;
    const reader = res.body.getReader();
    try {
      for (;;) {
        this.arm();
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (err) {
          throw this.failure(err);
        }
        // Time the consumer spends on a chunk is not the upstream's silence.
        this.disarm();
        if (step.done) return;
        yield step.value;
      }
    } finally {
      this.disarm();
      reader.releaseLock();
    }
  }

  /** Ends the call: stops the deadline, forgets the caller's signal, and aborts the exchange if it is still open. */
  close(): void {
    this.disarm();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.controller.abort();
  }

  /** Removes the API key from text that came from the upstream (some echo it back in errors). */
  redact(text: string): string {
    const key = this.upstream.apiKey;
    return key && key.length >= 4 ? text.split(key).join('***') : text;
  }

  private arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** What a thrown fetch or read error means: the caller's abort (rethrown as is), our deadline, or the network. */
  private failure(err: unknown): unknown {
    if (this.signal?.aborted) return this.signal.reason;
    if (this.expired) return new AttemptFailure('timeout', `no answer within ${this.timeoutMs} ms`, true);
    return new AttemptFailure('network', this.redact(describeNetworkError(err)), true);
  }

  private async readText(res: Response): Promise<string> {
    let text = '';
    const decoder = new TextDecoder();
    for await (const bytes of this.bytes(res)) {
      text += decoder.decode(bytes, { stream: true });
      if (text.length > MAX_ERROR_BODY_CHARS) break;
    }
    return text;
  }
}

/** undici hides the useful part ("ECONNREFUSED 127.0.0.1:1") in `cause`. */
function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return (err as Error)?.message ?? String(err);
}

/** The message in an upstream's error body: OpenAI's `{error: {message}}`, Ollama's `{error: "..."}`, FastAPI's `{detail}`, or text. */
export function errorMessageOf(text: string): { message: string; code: string | null } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: text.trim().slice(0, 500), code: null };
  }
  const body = json as { error?: unknown; message?: unknown; detail?: unknown };
  const error = body?.error as { message?: unknown; code?: unknown } | string | undefined;
  let message: unknown = typeof error === 'string' ? error : (error?.message ?? body?.message ?? body?.detail);
  if (typeof message !== 'string') message = JSON.stringify(message ?? json);
  const code = typeof error === 'object' && error && typeof error.code === 'string' ? error.code : null;
  return { message: (message as string).slice(0, 500), code };
}

/** `retry-after-ms` (OpenAI's), else `retry-after` in seconds or as an HTTP date; null when absent or unreadable. */
export function retryAfterMs(headers: Headers): number | null {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}
