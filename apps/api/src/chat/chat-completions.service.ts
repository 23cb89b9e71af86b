import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { ApiError, InvalidRequestError, ModelNotConfiguredError, newId, nowSeconds, parseOrThrow, type ExecutionObject } from '@cibox/contracts';
import { ResponseRun, parseCreateResponse, type ChatMessage, type ResponseEvent, type ResponseObject } from '@cibox/responses';
import { ContainersService } from '../containers/containers.service';
import { CodeSandbox } from '../responses/code-sandbox.service';
import { SandboxControl } from '../sandboxes/sandbox-control.service';
import { MODEL_CLIENT, type ChatRequest, type ModelClient } from '@cibox/model';

const codeInterpreterTool = z
  .object({
    type: z.literal('code_interpreter'),
    timeout_ms: z.number().int().min(1).optional(),
    sandbox_timeout_ms: z.number().int().min(1).optional(),
  })
  .strict();

const functionTool = z
  .object({
    type: z.literal('function'),
    function: z
      .object({
        name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes'),
        description: z.string().optional(),
        parameters: z.record(z.unknown()).optional(),
        strict: z.boolean().nullish(),
      })
      .passthrough(),
  })
  .passthrough();

/**
 * Built-in tools of other providers' Chat Completions (seed 001 pairs `{type: "web_search"}` with
 * code_interpreter) that we do not have: accepted, so such a request runs, and not offered to the
 * model, which answers with the code interpreter alone. Any other unknown tool type is still a 400.
 */
export const IGNORED_CHAT_TOOL_TYPES = ['web_search', 'web_search_preview', 'file_search', 'image_generation'] as const;

const CHAT_TOOL_TYPES: readonly string[] = ['code_interpreter', 'function', ...IGNORED_CHAT_TOOL_TYPES];

const ignoredTool = z.object({ type: z.enum(IGNORED_CHAT_TOOL_TYPES) }).passthrough();

/** A Chat Completions request that offers our code_interpreter tool. Other fields pass to the model. */
export const chatWithToolSchema = z
  .object({
    model: z.string({ required_error: 'is required' }).min(1).max(256),
    messages: z.array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']) }).passthrough()).min(1, 'must not be empty'),
    tools: z.array(z.discriminatedUnion('type', [codeInterpreterTool, functionTool, ignoredTool])),
    tool_choice: z
      .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }).passthrough()])
      .optional(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: z.record(z.unknown()).nullish(),
    n: z.literal(1).nullish(),
  })
  .passthrough();

/** How long the files of a chat request's container stay downloadable after its last use. */
const CHAT_FILES_MINUTES = 20;

/** Our extension: what each code execution did, on the completion (and on a chunk per execution when streamed). */
export interface ChatExecution {
  id: string;
  code: string;
  status: ExecutionObject['status'];
  stdout: string;
  stderr: string;
  results: ({ type: 'text'; text: string } | { type: 'image'; format: 'png'; file_id: string; url: string })[];
  error: ExecutionObject['error'];
}

/** How a completion is delivered: chunks as they happen, then the whole. */
export interface ChatSink {
  chunk(chunk: Record<string, unknown>): void;
}

/** What a proxied request must have; everything else goes upstream as it is. */
const proxiedChatSchema = z.object({ model: z.string({ required_error: 'is required' }).min(1), messages: z.array(z.unknown()).min(1, 'must not be empty') }).passthrough();

/** A Chat Completions body without the code_interpreter tool, checked as far as we check it before it goes upstream. */
export function parseProxiedChat(body: unknown): ChatRequest {
  return parseOrThrow(proxiedChatSchema, body ?? {}) as ChatRequest;
}

/** True when a Chat Completions body offers the code_interpreter tool (else it is proxied as it is). */
export function offersCodeInterpreter(body: unknown): boolean {
  const tools = (body as { tools?: unknown })?.tools;
  return Array.isArray(tools) && tools.some((t) => (t as { type?: unknown })?.type === 'code_interpreter');
}

/**
 * Chat Completions with the code_interpreter tool (seed 001): the same loop as the Responses API,
 * in a fresh container per request that lives at most `sandbox_timeout_ms` and is removed at the end.
 */
@Injectable()
export class ChatCompletionsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MODEL_CLIENT) private readonly model: ModelClient,
    private readonly containers: ContainersService,
    private readonly sandboxes: CodeSandbox,
    private readonly sandboxControl: SandboxControl,
  ) {}

  validate(body: unknown) {
    const tools = (body as { tools?: unknown })?.tools;
    if (Array.isArray(tools)) {
      tools.forEach((t: unknown, i) => {
        const type = (t as { type?: unknown })?.type;
        if (typeof type === 'string' && !CHAT_TOOL_TYPES.includes(type)) {
          throw new InvalidRequestError(
            `Tool type '${type}' is not supported; this server offers 'code_interpreter' and 'function' tools, and ignores ${IGNORED_CHAT_TOOL_TYPES.map((n) => `'${n}'`).join(', ')}.`,
            `tools[${i}].type`,
            'unsupported_tool',
          );
        }
      });
    }
    const parsed = parseOrThrow(chatWithToolSchema, body);
    if (parsed.tools.filter((t) => t.type === 'code_interpreter').length > 1) throw new ApiError(400, 'Only one code_interpreter tool may be given.', 'invalid_request_error', 'tools');
    if (!this.model.configured()) throw new ModelNotConfiguredError();
    return parsed;
  }

  async complete(tenant: string, body: z.infer<typeof chatWithToolSchema>, origin: string, sink: ChatSink, signal: AbortSignal): Promise<Record<string, unknown>> {
    const ci = body.tools.find((t): t is z.infer<typeof codeInterpreterTool> => t.type === 'code_interpreter')!;
    const functions = body.tools.filter((t): t is z.infer<typeof functionTool> => t.type === 'function');
    const id = `chatcmpl-${newId('response').slice(5, 37)}`;
    const created = nowSeconds();
    const base = { id, object: 'chat.completion.chunk', created, model: body.model };
    const timeoutMs = Math.min(ci.timeout_ms ?? this.config.sandbox.timeoutDefaultMs, this.config.sandbox.timeoutMaxMs);

    // The caller's other fields (stop, seed, user, ...) go to the model as they are.
    const {
      model: _m, messages, tools: _t, tool_choice, stream: _s, stream_options, temperature, top_p, max_tokens, max_completion_tokens,
      parallel_tool_calls, response_format, n: _n, ...passthrough
    } = body;
    const request = parseCreateResponse({
      model: body.model,
      input: [],
      tools: [{ type: 'code_interpreter' }, ...functions.map((f) => ({ type: 'function', name: f.function.name, description: f.function.description, parameters: f.function.parameters, strict: f.function.strict }))],
      ...(tool_choice ? { tool_choice: typeof tool_choice === 'string' ? tool_choice : { type: 'function', name: tool_choice.function.name } } : {}),
      temperature,
      top_p,
      max_output_tokens: max_completion_tokens ?? max_tokens,
      parallel_tool_calls,
      store: false,
    });

    let containerId: string | null = null;
    const sandbox = this.sandboxes.port(tenant, origin, timeoutMs, async () => {
      const container = await this.containers.create(tenant, { name: `Sandbox for ${id}`, expires_after: { anchor: 'last_active_at', minutes: CHAT_FILES_MINUTES } });
      containerId = container.id;
      return container.id;
    });
    // The sandbox's lifetime bounds the whole request.
    const lifetime = new AbortController();
    const onAbort = () => lifetime.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const lifetimeTimer = ci.sandbox_timeout_ms ? setTimeout(() => lifetime.abort(), ci.sandbox_timeout_ms) : null;

    const executions: ChatExecution[] = [];
    const functionCalls = new Map<string, number>(); // item id → tool_calls index
    let sentRole = false;
    const delta = (d: Record<string, unknown>, finish: string | null = null) => {
      const role = sentRole ? {} : { role: 'assistant' };
      sentRole = true;
      sink.chunk({ ...base, choices: [{ index: 0, delta: { ...role, ...d }, finish_reason: finish, logprobs: null }] });
    };
    let text = '';
    const onEvent = (event: ResponseEvent) => {
      if (event.type === 'response.output_text.delta') {
        text += event.delta;
        delta({ content: event.delta });
      } else if (event.type === 'response.output_item.added' && event.item.type === 'function_call') {
        const index = functionCalls.size;
        functionCalls.set(event.item.id, index);
        delta({ tool_calls: [{ index, id: event.item.call_id, type: 'function', function: { name: event.item.name, arguments: '' } }] });
      } else if (event.type === 'response.function_call_arguments.delta') {
        delta({ tool_calls: [{ index: functionCalls.get(event.item_id), function: { arguments: event.delta } }] });
      }
    };
    try {
      const run = new ResponseRun({
        id,
        request,
        model: (req, s) => this.model.stream(req, s),
        sandbox,
        messages: messages as unknown as ChatMessage[],
        maxToolCalls: this.config.maxToolCalls,
        emit: onEvent,
        signal: lifetime.signal,
        upstreamParams: { ...passthrough, ...(response_format ? { response_format } : {}) },
        onExecution: (item, execution) => {
          const entry = toChatExecution(item.id, item.code, execution, (fileId) => sandbox.fileUrl(item.container_id, fileId));
          executions.push(entry);
          sink.chunk({ ...base, choices: [], code_interpreter: { execution: entry } });
        },
      });
      const result = await run.run();
      if (lifetime.signal.aborted && !signal.aborted) {
        throw new ApiError(400, `The sandbox reached its sandbox_timeout_ms of ${ci.sandbox_timeout_ms} ms before the model finished.`, 'invalid_request_error', 'tools', 'sandbox_timeout');
      }
      if (result.failure) throw result.failure;
      const response = result.response;
      const finish = finishReason(response);
      delta({}, finish);
      const usage = chatUsage(response);
      if (stream_options?.include_usage) sink.chunk({ ...base, choices: [], usage });
      const toolCalls = response.output.flatMap((i) => (i.type === 'function_call' ? [{ id: i.call_id, type: 'function', function: { name: i.name, arguments: i.arguments } }] : []));
      return {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text || null, refusal: null, annotations: [], ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
            finish_reason: finish,
            logprobs: null,
          },
        ],
        usage,
        code_interpreter: { executions },
      };
    } finally {
      if (lifetimeTimer) clearTimeout(lifetimeTimer);
      signal.removeEventListener('abort', onAbort);
      // The sandbox lives for this request only. The container's files stay readable through the
      // image links until it expires (idle for CHAT_FILES_MINUTES), then the reaper removes them.
      if (containerId) await this.sandboxControl.destroy(containerId).catch(() => undefined);
    }
  }
}

function finishReason(response: ResponseObject): 'stop' | 'length' | 'tool_calls' {
  if (response.status === 'incomplete') return 'length';
  return response.output.some((i) => i.type === 'function_call') ? 'tool_calls' : 'stop';
}

function chatUsage(response: ResponseObject) {
  const u = response.usage;
  return {
    prompt_tokens: u?.input_tokens ?? 0,
    completion_tokens: u?.output_tokens ?? 0,
    total_tokens: u?.total_tokens ?? 0,
    prompt_tokens_details: { cached_tokens: u?.input_tokens_details.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u?.output_tokens_details.reasoning_tokens ?? 0 },
  };
}

function toChatExecution(id: string, code: string, execution: ExecutionObject, url: (fileId: string) => string): ChatExecution {
  return {
    id,
    code,
    status: execution.status,
    stdout: execution.stdout,
    stderr: execution.stderr,
    results: execution.results.map((r) => (r.type === 'image' ? { ...r, url: url(r.file_id) } : r)),
    error: execution.error,
  };
}
