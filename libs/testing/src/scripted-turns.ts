import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ChatCompletion, ChatRequest, ChatToolCallDelta, ChatUsage } from '@cibox/model';

/** One scripted answer of the upstream: consumed by one request, in order. */
export const scriptedTurnSchema = z
  .object({
    /** Assistant text, streamed in several deltas. */
    content: z.string().optional(),
    /** Calls of function tools; `arguments` is the JSON text, streamed a few characters at a time. */
    tool_calls: z.array(z.object({ name: z.string().min(1), arguments: z.string(), id: z.string().min(1).optional() }).strict()).optional(),
    /** Default: `tool_calls` when there are calls, else `stop`. */
    finish_reason: z.enum(['stop', 'length', 'tool_calls', 'content_filter']).optional(),
    /** Default: counted from the request and the answer, about four characters a token. */
    usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).strict().optional(),
    /** Answer this HTTP error instead (OpenAI's error body), with `retry_after` seconds when given. */
    status: z.number().int().min(400).max(599).optional(),
    retry_after: z.number().nonnegative().optional(),
    /** The error's message, for `status` and `error_after_chunks`. */
    error_message: z.string().optional(),
    /** Wait this long before answering at all (before the status line). */
    delay_ms: z.number().int().nonnegative().optional(),
    /** Wait this long before every chunk after the first. */
    chunk_delay_ms: z.number().int().nonnegative().optional(),
    /** Cut the connection after this many SSE events. */
    drop_after_chunks: z.number().int().nonnegative().optional(),
    /** After this many SSE events, send an `{"error": …}` event and end the stream, as OpenAI does mid-stream. */
    error_after_chunks: z.number().int().nonnegative().optional(),
  })
  .strict();

export type ScriptedTurn = z.infer<typeof scriptedTurnSchema>;

/** A tool call of `python`, the function the model sees the code interpreter as, running `code`. */
export const pythonCall = (code: string) => ({ name: 'python', arguments: JSON.stringify({ code }) });

export const scriptSchema = z.object({ model: z.string().min(1), turns: z.array(scriptedTurnSchema).min(1) }).strict();

/** What one rendered answer needs besides the turn. */
export interface RenderContext {
  request: ChatRequest;
  /** Number of this request among the model's requests, from 1: makes ids deterministic. */
  sequence: number;
  created: number;
}

const CONTENT_PIECES = [4, 7, 5, 3];
const ARGUMENT_PIECES = [3, 1, 4, 2, 5];

/** Splits text into pieces of cycling sizes (in code points, so no surrogate pair is split). */
export function splitText(text: string, sizes: number[]): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0, n = 0; i < chars.length; n++) {
    const size = sizes[n % sizes.length]!;
    pieces.push(chars.slice(i, i + size).join(''));
    i += size;
  }
  return pieces;
}

/**
 * Splits a tool call's JSON arguments the way real servers do, a few characters at a time, and
 * always right after a backslash, so that escapes such as `\n` and `\u00e9` arrive in two halves.
 */
export function splitArguments(args: string): string[] {
  const pieces: string[] = [];
  for (const piece of splitText(args, ARGUMENT_PIECES)) {
    let rest = piece;
    for (let cut = rest.indexOf('\\'); cut !== -1 && cut < rest.length - 1; cut = rest.indexOf('\\')) {
      pieces.push(rest.slice(0, cut + 1));
      rest = rest.slice(cut + 1);
    }
    if (rest) pieces.push(rest);
  }
  return pieces;
}

const hash = (...parts: (string | number)[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

const callId = (ctx: RenderContext, i: number, given?: string) => given ?? `call_${hash(ctx.request.model, ctx.sequence, i).slice(0, 24)}`;

function usageOf(turn: ScriptedTurn, ctx: RenderContext): ChatUsage {
  const answer = (turn.content ?? '') + (turn.tool_calls ?? []).map((c) => c.name + c.arguments).join('');
  const prompt = turn.usage?.prompt_tokens ?? Math.ceil(JSON.stringify(ctx.request.messages ?? []).length / 4);
  const completion = turn.usage?.completion_tokens ?? Math.max(1, Math.ceil(answer.length / 4));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

const finishReasonOf = (turn: ScriptedTurn) => turn.finish_reason ?? (turn.tool_calls?.length ? 'tool_calls' : 'stop');

/** A chunk as it goes on the wire, with the nulls OpenAI sends (clients read it as a ChatChunk). */
export interface WireChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: { index: number; delta: { role?: 'assistant'; content?: string; refusal?: null; tool_calls?: ChatToolCallDelta[] }; logprobs: null; finish_reason: string | null }[];
  usage?: ChatUsage | null;
}

/** The turn as the SSE chunks a real server sends: role, content deltas, tool-call deltas, finish, then usage if asked. */
export function renderChunks(turn: ScriptedTurn, ctx: RenderContext): WireChunk[] {
  const base = { id: `chatcmpl-${hash(ctx.request.model, ctx.sequence).slice(0, 29)}`, object: 'chat.completion.chunk' as const, created: ctx.created, model: ctx.request.model };
  const includeUsage = ctx.request.stream_options?.include_usage === true;
  const chunk = (delta: WireChunk['choices'][number]['delta'], finish: string | null = null): WireChunk => ({
    ...base,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    // With include_usage, OpenAI puts `usage: null` on every chunk but the last.
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks: WireChunk[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of splitText(turn.content ?? '', CONTENT_PIECES)) chunks.push(chunk({ content: piece }));
  (turn.tool_calls ?? []).forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: callId(ctx, index, call.id), type: 'function', function: { name: call.name, arguments: '' } }] }));
    for (const piece of splitArguments(call.arguments)) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  chunks.push(chunk({}, finishReasonOf(turn)));
  if (includeUsage) chunks.push({ ...base, system_fingerprint: null, choices: [], usage: usageOf(turn, ctx) });
  return chunks;
}

/** The turn as one non-streamed `chat.completion`. */
export function renderCompletion(turn: ScriptedTurn, ctx: RenderContext): ChatCompletion {
  const toolCalls = (turn.tool_calls ?? []).map((call, i) => ({ id: callId(ctx, i, call.id), type: 'function' as const, function: { name: call.name, arguments: call.arguments } }));
  return {
    id: `chatcmpl-${hash(ctx.request.model, ctx.sequence).slice(0, 29)}`,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.request.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: turn.content ?? null, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReasonOf(turn),
        logprobs: null,
      },
    ],
    usage: usageOf(turn, ctx),
  };
}
