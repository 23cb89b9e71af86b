import { z } from 'zod';
import { MEMORY_LIMITS, parseOrThrow, InvalidRequestError } from '@cibox/contracts';

const text = z.string().max(4_000_000);

/** Content parts of input messages (and output_text, when a client replays an assistant message). */
const contentPart = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input_text'), text }).passthrough(),
  z
    .object({
      type: z.literal('input_image'),
      image_url: z.string().max(20_000_000).nullish(),
      file_id: z.string().max(200).nullish(),
      detail: z.enum(['low', 'high', 'auto', 'original']).optional(),
    })
    .passthrough(),
  z
    .object({
      type: z.literal('input_file'),
      file_id: z.string().max(200).nullish(),
      file_data: z.string().max(70_000_000).optional(),
      file_url: z.string().max(4096).optional(),
      filename: z.string().max(255).optional(),
    })
    .passthrough(),
  z.object({ type: z.literal('output_text'), text, annotations: z.array(z.unknown()).optional() }).passthrough(),
  z.object({ type: z.literal('refusal'), refusal: text }).passthrough(),
]);
export type ContentPart = z.infer<typeof contentPart>;

const messageItem = z
  .object({
    type: z.literal('message'),
    id: z.string().max(200).optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']),
    content: z.union([text, z.array(contentPart).max(1000)]),
  })
  .passthrough();

const functionCallOutput = z
  .object({
    type: z.literal('function_call_output'),
    id: z.string().max(200).nullish(),
    call_id: z.string().min(1).max(200),
    output: z.union([text, z.array(contentPart)]),
  })
  .passthrough();

const functionCall = z
  .object({
    type: z.literal('function_call'),
    id: z.string().max(200).optional(),
    call_id: z.string().min(1).max(200),
    name: z.string().min(1).max(128),
    arguments: text,
  })
  .passthrough();

const codeInterpreterCall = z
  .object({
    type: z.literal('code_interpreter_call'),
    id: z.string().min(1).max(200),
    code: text.nullable(),
    container_id: z.string().max(200),
    outputs: z
      .array(z.union([z.object({ type: z.literal('logs'), logs: text }).passthrough(), z.object({ type: z.literal('image'), url: z.string() }).passthrough()]))
      .nullish(),
  })
  .passthrough();

const inputItem = z.preprocess(
  // Easy input messages may leave out `type`.
  (v) => (v && typeof v === 'object' && !('type' in v) && 'role' in v ? { ...v, type: 'message' } : v),
  z.discriminatedUnion('type', [messageItem, functionCallOutput, functionCall, codeInterpreterCall]),
);
export type InputItemParam = z.infer<typeof inputItem>;

const containerParam = z.union([
  z.string().min(1).max(200),
  z
    .object({
      type: z.literal('auto'),
      file_ids: z.array(z.string().min(1).max(200)).max(100).optional(),
      memory_limit: z.enum(MEMORY_LIMITS).nullish(),
      network_policy: z.object({ type: z.enum(['disabled', 'allowlist']) }).passthrough().optional(),
    })
    .passthrough(),
  z.object({ type: z.literal('existing'), container_id: z.string().min(1).max(200) }).passthrough(),
]);

const tool = z.discriminatedUnion('type', [
  z.object({ type: z.literal('code_interpreter'), container: containerParam.optional() }).passthrough(),
  z
    .object({
      type: z.literal('function'),
      name: z
        .string()
        .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes'),
      description: z.string().max(10_000).nullish(),
      parameters: z.record(z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    })
    .passthrough(),
]);
export type ToolParam = z.infer<typeof tool>;

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('code_interpreter') }).strict(),
  z.object({ type: z.literal('function'), name: z.string().min(1).max(64) }).strict(),
]);
export type ToolChoiceParam = z.infer<typeof toolChoice>;

const INCLUDABLE = [
  'code_interpreter_call.outputs',
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
] as const;

const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, 'must have at most 16 keys');

/** `POST /v1/responses`. Fields OpenAI defines that we do not act on are accepted and echoed. */
export const createResponseSchema = z
  .object({
    model: z.string({ required_error: 'is required' }).min(1).max(256),
    input: z.union([text, z.array(inputItem).max(10_000)]),
    instructions: text.nullish(),
    tools: z.array(tool).max(128).optional(),
    tool_choice: toolChoice.optional(),
    include: z.array(z.enum(INCLUDABLE)).max(16).nullish(),
    max_tool_calls: z.number().int().min(0).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_output_tokens: z.number().int().min(1).nullish(),
    text: z
      .object({
        format: z
          .discriminatedUnion('type', [
            z.object({ type: z.literal('text') }).strict(),
            z.object({ type: z.literal('json_object') }).strict(),
            z
              .object({
                type: z.literal('json_schema'),
                name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes'),
                schema: z.record(z.unknown()),
                description: z.string().optional(),
                strict: z.boolean().nullish(),
              })
              .strict(),
          ])
          .optional(),
        verbosity: z.enum(['low', 'medium', 'high']).nullish(),
      })
      .strict()
      .nullish(),
    store: z.boolean().nullish(),
    metadata: metadata.nullish(),
    previous_response_id: z.string().min(1).max(200).nullish(),
    stream: z.boolean().nullish(),
    background: z.boolean().nullish(),
    // Accepted and echoed; they change nothing here.
    truncation: z.enum(['auto', 'disabled']).nullish(),
    service_tier: z.string().max(32).nullish(),
    user: z.string().max(512).optional(),
    safety_identifier: z.string().max(512).nullish(),
    prompt_cache_key: z.string().max(512).nullish(),
    prompt_cache_retention: z.string().max(32).nullish(),
    prompt_cache_options: z.record(z.unknown()).nullish(),
    reasoning: z.record(z.unknown()).nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    stream_options: z.record(z.unknown()).nullish(),
    context_management: z.unknown().optional(),
    moderation: z.unknown().optional(),
  })
  .strict();

export type CreateResponseRequest = z.infer<typeof createResponseSchema>;

/** Parses a create request: an OpenAI-shaped 400 naming the field for anything wrong. */
export function parseCreateResponse(body: unknown): CreateResponseRequest {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (b.conversation !== undefined) throw new InvalidRequestError("'conversation' is not supported; use previous_response_id.", 'conversation');
    const unknownKey = Object.keys(body).find((k) => !(k in createResponseSchema.shape));
    if (unknownKey) throw new InvalidRequestError(`Unknown parameter: '${unknownKey}'.`, unknownKey, 'unknown_parameter');
    if (Array.isArray(b.tools)) {
      b.tools.forEach((t: unknown, i) => {
        const type = (t as { type?: unknown })?.type;
        if (typeof type === 'string' && type !== 'code_interpreter' && type !== 'function') {
          throw new InvalidRequestError(`Tool type '${type}' is not supported; this server offers 'code_interpreter' and 'function' tools.`, `tools[${i}].type`, 'unsupported_tool');
        }
      });
      if (b.tools.filter((t: unknown) => (t as { type?: unknown })?.type === 'code_interpreter').length > 1) {
        throw new InvalidRequestError('Only one code_interpreter tool may be given.', 'tools');
      }
    }
  }
  return parseOrThrow(createResponseSchema, body ?? {});
}
