import { z } from 'zod';

/**
 * The Chat Completions subset we send to an OpenAI-compatible upstream and read back. Requests are
 * plain types (we build them); chunks are parsed with a lenient schema, since upstreams differ in
 * what they omit (Ollama's tool-call deltas once had no `index`; some usage chunks have no `choices`).
 */

export interface ChatTextPart {
  type: 'text';
  text: string;
}

export interface ChatImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}

export type ChatContentPart = ChatTextPart | ChatImagePart;

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system' | 'developer'; content: string | ChatTextPart[]; name?: string }
  | { role: 'user'; content: string | ChatContentPart[]; name?: string }
  | { role: 'assistant'; content?: string | ChatTextPart[] | null; tool_calls?: ChatToolCall[]; refusal?: string | null; name?: string }
  | { role: 'tool'; tool_call_id: string; content: string | ChatTextPart[] };

export interface ChatFunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export type ChatToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null } };

/** A Chat Completions request. Fields we do not model pass through to the upstream unchanged. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ChatFunctionTool[];
  tool_choice?: ChatToolChoice;
  response_format?: ChatResponseFormat;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  parallel_tool_calls?: boolean;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  [field: string]: unknown;
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

const usageSchema = z
  .object({
    prompt_tokens: z.number().default(0),
    completion_tokens: z.number().default(0),
    total_tokens: z.number().default(0),
    prompt_tokens_details: z.object({ cached_tokens: z.number().optional() }).passthrough().nullish(),
    completion_tokens_details: z.object({ reasoning_tokens: z.number().optional() }).passthrough().nullish(),
  })
  .passthrough();

const toolCallDeltaSchema = z.object({
  index: z.number().int().nonnegative().optional(),
  id: z.string().nullish(),
  type: z.literal('function').nullish(),
  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

const choiceSchema = z.object({
  index: z.number().int().nonnegative().default(0),
  delta: z
    .object({
      role: z.string().nullish(),
      content: z.string().nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(toolCallDeltaSchema).nullish(),
    })
    .default({}),
  // Upstreams invent reasons ("eos", "end_turn"); they are kept as strings and judged by the caller.
  finish_reason: z.string().nullish(),
});

/** One `chat.completion.chunk`, leniently parsed and normalized (see `parseChatChunk`). */
export const chatChunkSchema = z.object({
  id: z.string().default(''),
  object: z.string().default('chat.completion.chunk'),
  created: z.number().default(0),
  model: z.string().default(''),
  choices: z.array(choiceSchema).nullish(),
  usage: usageSchema.nullish(),
});

export type ChatUsage = z.infer<typeof usageSchema>;

export interface ChatToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatChunkChoice {
  index: number;
  delta: { role?: string; content?: string; refusal?: string; tool_calls?: ChatToolCallDelta[] };
  finish_reason: ChatFinishReason | (string & {}) | null;
}

/** A streamed chunk as the caller sees it: absent and null fields are both absent, `choices` always an array. */
export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatChunkChoice[];
  usage?: ChatUsage;
}

/** A non-streamed `chat.completion`. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: string | null; tool_calls?: ChatToolCall[] };
    finish_reason: ChatFinishReason;
    logprobs: null;
  }[];
  usage?: ChatUsage;
}

/** An OpenAI `model` object, as `GET /v1/models` lists it. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;

/** Validates one chunk's JSON and normalizes it; returns null when it is not a chunk at all. */
export function parseChatChunk(json: unknown): ChatChunk | null {
  const parsed = chatChunkSchema.safeParse(json);
  if (!parsed.success) return null;
  const c = parsed.data;
  return defined({
    id: c.id,
    object: 'chat.completion.chunk' as const,
    created: c.created,
    model: c.model,
    choices: (c.choices ?? []).map((choice) => ({
      index: choice.index,
      delta: defined({
        role: choice.delta.role ?? undefined,
        content: choice.delta.content ?? undefined,
        refusal: choice.delta.refusal ?? undefined,
        tool_calls: choice.delta.tool_calls?.map((call, position) =>
          defined({
            // Without an index, a delta's calls are numbered by position, as the servers that omit it mean.
            index: call.index ?? position,
            id: call.id ?? undefined,
            type: call.type ?? undefined,
            function: call.function ? defined({ name: call.function.name ?? undefined, arguments: call.function.arguments ?? undefined }) : undefined,
          }),
        ),
      }),
      finish_reason: choice.finish_reason ?? null,
    })),
    usage: c.usage ?? undefined,
  });
}
