import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError, ModelNotConfiguredError, UpstreamError, type BatchEndpoint, type BatchUsage } from '@cibox/contracts';
import { MODEL_CLIENT, type ModelClient } from '@cibox/model';
import { parseCreateResponse, presentResponse, type ResponseUsage } from '@cibox/responses';
import { ChatCompletionsService, offersCodeInterpreter, parseProxiedChat } from '../chat/chat-completions.service';
import { ResponsesService } from '../responses/responses.service';

/** What one request of a batch answered: as the endpoint would have over HTTP. */
export interface BatchLineReply {
  status: number;
  body: unknown;
  usage: BatchUsage | null;
}

/** The body of a 500: what went wrong inside is logged, not told. */
const INTERNAL_ERROR = { error: { message: 'The server had an error while processing this request.', type: 'server_error', param: null, code: null } };

/**
 * The endpoints a batch line calls, through the same services as their HTTP routes: a Responses
 * line is ResponsesService's prepare and run (stored as its `store` says), a Chat Completions line
 * is the tool loop when it offers the code_interpreter tool, else the upstream as it is.
 */
@Injectable()
export class BatchEndpoints {
  private readonly logger = new Logger(BatchEndpoints.name);

  constructor(
    private readonly responses: ResponsesService,
    private readonly chat: ChatCompletionsService,
    @Inject(MODEL_CLIENT) private readonly model: ModelClient,
  ) {}

  /** Checks a body as the endpoint's route would before running it; throws its 4xx. */
  validate(endpoint: BatchEndpoint, body: Record<string, unknown>): void {
    if (endpoint === '/v1/responses') parseCreateResponse(body);
    else if (offersCodeInterpreter(body)) this.chat.validate(body);
    else parseProxiedChat(body);
  }

  /**
   * Runs one request and answers what its route would: a reply for any error of the request's
   * (4xx, an upstream's 5xx, our 500). Only an abort through `signal` rejects, so the caller can
   * hand the line back instead of recording it.
   */
  async run(tenant: string, endpoint: BatchEndpoint, body: Record<string, unknown>, origin: string, signal: AbortSignal): Promise<BatchLineReply> {
    try {
      return endpoint === '/v1/responses' ? await this.response(tenant, body, origin, signal) : await this.chatCompletion(tenant, body, origin, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof ApiError) return { status: err.status, body: err.toBody(), usage: null };
      this.logger.error(`a batch line failed: ${err instanceof Error ? err.stack : String(err)}`);
      return { status: 500, body: INTERNAL_ERROR, usage: null };
    }
  }

  private async response(tenant: string, body: Record<string, unknown>, origin: string, signal: AbortSignal): Promise<BatchLineReply> {
    const prepared = await this.responses.prepare(tenant, body, origin);
    const result = await prepared.run(() => undefined, signal);
    if (signal.aborted) throw new Error('aborted');
    if (result.failure) throw result.failure;
    return { status: 200, body: presentResponse(result.response, prepared.includeOutputs), usage: fromResponseUsage(result.response.usage) };
  }

  private async chatCompletion(tenant: string, body: Record<string, unknown>, origin: string, signal: AbortSignal): Promise<BatchLineReply> {
    if (offersCodeInterpreter(body)) {
      const completion = await this.chat.complete(tenant, this.chat.validate(body), origin, { chunk: () => undefined }, signal);
      return { status: 200, body: completion, usage: fromChatUsage(completion.usage) };
    }
    if (!this.model.configured()) throw new ModelNotConfiguredError();
    const upstream = await this.model.proxy(parseProxiedChat(body), signal);
    let completion: { usage?: unknown };
    try {
      completion = (await upstream.json()) as { usage?: unknown };
    } catch (err) {
      if (signal.aborted) throw err;
      throw new UpstreamError(`The model upstream's reply was not JSON: ${(err as Error).message}`);
    }
    return { status: upstream.status, body: completion, usage: fromChatUsage(completion.usage) };
  }
}

function fromResponseUsage(u: ResponseUsage | null): BatchUsage | null {
  if (!u) return null;
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.input_tokens_details.cached_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.output_tokens_details.reasoning_tokens },
    total_tokens: u.total_tokens,
  };
}

/** Usage of a chat completion, ours or an upstream's as it sent it (so each number is checked). */
function fromChatUsage(usage: unknown): BatchUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown; total_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null; completion_tokens_details?: { reasoning_tokens?: unknown } | null };
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : 0);
  return {
    input_tokens: n(u.prompt_tokens),
    input_tokens_details: { cached_tokens: n(u.prompt_tokens_details?.cached_tokens) },
    output_tokens: n(u.completion_tokens),
    output_tokens_details: { reasoning_tokens: n(u.completion_tokens_details?.reasoning_tokens) },
    total_tokens: n(u.total_tokens),
  };
}
