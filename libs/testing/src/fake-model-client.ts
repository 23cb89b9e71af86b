import { UpstreamError } from '@cibox/contracts';
import { parseChatChunk, type ChatChunk, type ChatRequest, type ModelClient, type ModelObject } from '@cibox/model';
import { personaTurn } from './scripted-persona';
import { renderChunks, renderCompletion, type ScriptedTurn } from './scripted-turns';

/**
 * An in-memory ModelClient for unit tests of code that uses the port: it answers the turns it was
 * given, in order, with the very chunks the scripted upstream would stream (then the persona, when
 * they are used up). A turn with `status` throws an UpstreamError before any chunk (as when
 * retries ran out); one with `drop_after_chunks` or `error_after_chunks` throws it mid-stream.
 */
export class FakeModelClient implements ModelClient {
  /** Every request, as it was passed in. */
  readonly requests: ChatRequest[] = [];

  constructor(private readonly turns: ScriptedTurn[] = []) {}

  configured(): boolean {
    return true;
  }

  async *stream(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatChunk> {
    const turn = this.take(request);
    const ctx = { request: { ...request, stream_options: { include_usage: true } }, sequence: this.requests.length, created: 0 };
    const chunks = renderChunks(turn, ctx);
    const limit = Math.min(turn.drop_after_chunks ?? Infinity, turn.error_after_chunks ?? Infinity);
    for (const [i, wire] of chunks.entries()) {
      signal?.throwIfAborted();
      if (i >= limit) throw new UpstreamError(`fake upstream: ${turn.error_message ?? 'broke off'} after ${i} chunks`, 'upstream_stream_error');
      await Promise.resolve();
      yield parseChatChunk(JSON.parse(JSON.stringify(wire)))!;
    }
  }

  proxy(request: ChatRequest): Promise<Response> {
    const turn = this.take(request);
    const body = JSON.stringify(renderCompletion(turn, { request, sequence: this.requests.length, created: 0 }));
    return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }));
  }

  listModels(): Promise<ModelObject[]> {
    return Promise.resolve([{ id: 'openai/gpt-4o', object: 'model', created: 0, owned_by: 'fake' }]);
  }

  private take(request: ChatRequest): ScriptedTurn {
    this.requests.push(request);
    const turn = this.turns.shift() ?? personaTurn(request);
    if (turn.status) throw new UpstreamError(`fake upstream: HTTP ${turn.status}${turn.error_message ? `: ${turn.error_message}` : ''}`);
    return turn;
  }
}
