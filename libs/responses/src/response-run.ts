import { ApiError, newId, nowSeconds, type ExecutionObject } from '@cibox/contracts';
import type { ChatFunctionTool, ChatMessage, ChatRequest, ChatToolCall, ChatToolChoice, ChatUsage, ModelStream } from './chat';
import { citeFiles, type CitableFile } from './citations';
import { CodeArgumentStream } from './code-arguments';
import type { CreateResponseRequest } from './request';
import { logsOf, toolResultForModel } from './tool-result';
import type {
  CodeInterpreterCallItem,
  CodeInterpreterOutput,
  FunctionCallItem,
  MessageItem,
  OutputItem,
  ResponseError,
  ResponseEvent,
  ResponseEventBody,
  ResponseObject,
  ResponseUsage,
} from './wire';

/** The sandbox side of a response: the api implements it over containers and executions. */
export interface SandboxPort {
  /** The container code runs in; an `auto` one is created on first use. */
  container(): Promise<string>;
  /** Runs `code` in the container and resolves with the finished execution. */
  run(containerId: string, code: string, signal: AbortSignal): Promise<ExecutionObject>;
  /** A link to a container file that a browser can open without the API key. */
  fileUrl(containerId: string, fileId: string): string;
}

export interface ResponseRunOptions {
  id: string;
  request: CreateResponseRequest;
  model: ModelStream;
  /** Null when the request offers no code_interpreter tool. */
  sandbox: SandboxPort | null;
  /** The conversation so far and the new input, as chat messages (instructions not included). */
  messages: ChatMessage[];
  /** Tool calls allowed in this response: the request's `max_tool_calls` under the server's ceiling. */
  maxToolCalls: number;
  /** Receives each event as it happens, numbered, outputs included (see `presentEvent`). */
  emit: (event: ResponseEvent) => void;
  signal: AbortSignal;
  /** Told of every execution, with its full result (Chat Completions reports them in its extension field). */
  onExecution?: (item: CodeInterpreterCallItem, execution: ExecutionObject) => void;
  /** Parameters added to every upstream call as they are (Chat Completions passes the caller's through). */
  upstreamParams?: Record<string, unknown>;
  /** Fields of our own on the response object (a background response's `attempts`). */
  extra?: Record<string, unknown>;
}

export interface ResponseRunResult {
  /** The final response, outputs of code_interpreter_call items included. */
  response: ResponseObject;
  /** `messages` plus what this response added: what a follow-up response continues from. */
  transcript: ChatMessage[];
  /** The container the code ran in, if any ran. */
  containerId: string | null;
  /** Why it failed, when it did (the foreground reply's HTTP error). */
  failure: ApiError | null;
}

/** The function the model knows the code interpreter as. */
const PYTHON_TOOL = 'python';

const PYTHON_DESCRIPTION = [
  'Runs Python code in a stateful Jupyter-like sandbox and returns its output.',
  'Variables and imports persist between calls. The working directory is /mnt/data: files the user gave you are there,',
  'and files you save there can be given to the user: link them as sandbox:/mnt/data/<name>.',
  'The value of the last expression, printed output, errors and matplotlib figures are returned.',
  'There is no internet access; numpy, pandas and matplotlib are installed.',
].join(' ');

/** Removes the outputs of code_interpreter_call items unless the request included them. */
export function presentItem<T extends OutputItem>(item: T, includeOutputs: boolean): T {
  return item.type === 'code_interpreter_call' && !includeOutputs ? { ...item, outputs: null } : item;
}

export function presentResponse(response: ResponseObject, includeOutputs: boolean): ResponseObject {
  return includeOutputs ? response : { ...response, output: response.output.map((i) => presentItem(i, false)) };
}

/**
 * An event as a reader's `include` asks. The loop emits (and the log keeps) every event whole, so a
 * replay can include outputs the original request did not.
 */
export function presentEvent(e: ResponseEvent, includeOutputs: boolean): ResponseEvent {
  if ('item' in e) return { ...e, item: presentItem(e.item, includeOutputs) };
  if ('response' in e) return { ...e, response: presentResponse(e.response, includeOutputs) };
  return e;
}

/** A fresh response object echoing the request, before anything ran. */
export function initialResponse(id: string, request: CreateResponseRequest): ResponseObject {
  const { input: _input, include: _include, stream: _stream, background: _background, store, tools, tool_choice, text, metadata, ...rest } = request;
  return {
    ...rest,
    id,
    object: 'response',
    created_at: nowSeconds(),
    status: 'in_progress',
    completed_at: null,
    model: request.model,
    output: [],
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    metadata: metadata ?? {},
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    temperature: request.temperature ?? null,
    top_p: request.top_p ?? null,
    tool_choice: tool_choice ?? 'auto',
    tools: tools ?? [],
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: request.max_tool_calls ?? null,
    previous_response_id: request.previous_response_id ?? null,
    text: text ?? { format: { type: 'text' } },
    truncation: request.truncation ?? 'disabled',
    background: request.background ?? false,
    store: store ?? true,
    usage: null,
    user: request.user ?? null,
    reasoning: request.reasoning ?? null,
    service_tier: request.service_tier ?? 'default',
    access_programs: null,
  };
}

function emptyUsage(): ResponseUsage {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

function addUsage(total: ResponseUsage, u: ChatUsage): void {
  total.input_tokens += u.prompt_tokens ?? 0;
  total.output_tokens += u.completion_tokens ?? 0;
  total.total_tokens += u.total_tokens ?? (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0);
  total.input_tokens_details.cached_tokens += u.prompt_tokens_details?.cached_tokens ?? 0;
  total.output_tokens_details.reasoning_tokens += u.completion_tokens_details?.reasoning_tokens ?? 0;
}

/** A tool call as it streams in from the model. */
interface PendingCall {
  index: number;
  id: string;
  /** Whether `id` came from the model (else it is ours, until the model sends one). */
  idGiven: boolean;
  name: string;
  args: string;
  code: CodeArgumentStream | null;
  item: CodeInterpreterCallItem | FunctionCallItem | null;
  outputIndex: number;
}

class CancelledError extends Error {}

/** The largest arguments one tool call may stream: what the model sends is untrusted input too. */
const MAX_CALL_ARGUMENTS = 2_000_000;

/**
 * The call a tool-call delta belongs to. A delta with a new `id` starts a call even at a reused or
 * missing `index` (servers that send one call per chunk without indexes); one without an `id`
 * continues the call at its `index`, or the last one.
 */
function callFor(calls: Map<number, PendingCall>, tc: { index?: number; id?: string }): PendingCall {
  const last = [...calls.values()].at(-1);
  const atIndex = tc.index !== undefined ? calls.get(tc.index) : undefined;
  if (tc.id) {
    const same = [...calls.values()].find((c) => c.id === tc.id);
    if (same) return same;
    if (atIndex && atIndex.idGiven) {
      // A second call at the same index: give it the next free one.
      return newCall(calls, Math.max(...calls.keys()) + 1, tc.id);
    }
    if (atIndex) {
      atIndex.id = tc.id;
      atIndex.idGiven = true;
      return atIndex;
    }
    return newCall(calls, tc.index ?? (last ? Math.max(...calls.keys()) + 1 : 0), tc.id);
  }
  if (atIndex) return atIndex;
  if (tc.index === undefined && last) return last;
  return newCall(calls, tc.index ?? 0, null);
}

function newCall(calls: Map<number, PendingCall>, index: number, id: string | null): PendingCall {
  const call: PendingCall = { index, id: id ?? newId('toolCall'), idGiven: id !== null, name: '', args: '', code: null, item: null, outputIndex: -1 };
  calls.set(index, call);
  return call;
}

/**
 * One response: the model↔sandbox loop. Streams the model's turns, turns `python` calls into
 * code_interpreter_call items that run in the sandbox, feeds their results back, and stops at the
 * model's answer, a function call of the caller's, an error, or the tool-call limit. Every change is
 * an event; the response object is what the events built.
 */
export class ResponseRun {
  private readonly response: ResponseObject;
  private readonly usage = emptyUsage();
  private readonly transcript: ChatMessage[];
  private readonly userFunctions: ChatFunctionTool[];
  private readonly citable: CitableFile[] = [];
  private sequence = 0;
  private toolCalls = 0;
  private containerId: string | null = null;
  private message: { item: MessageItem; outputIndex: number } | null = null;

  constructor(private readonly opts: ResponseRunOptions) {
    this.response = { ...initialResponse(opts.id, opts.request), ...opts.extra };
    this.transcript = [...opts.messages];
    this.userFunctions = (opts.request.tools ?? []).flatMap((t) =>
      t.type === 'function'
        ? [{ type: 'function' as const, function: { name: t.name, description: t.description ?? undefined, parameters: t.parameters ?? { type: 'object', properties: {} }, strict: t.strict ?? undefined } }]
        : [],
    );
  }

  /** The response as it stands (outputs included). */
  get snapshot(): ResponseObject {
    return this.response;
  }

  private emit(body: ResponseEventBody): void {
    this.opts.emit({ ...body, sequence_number: this.sequence++ });
  }

  private responseEvent(type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.failed' | 'response.incomplete'): void {
    const response = structuredClone(this.response);
    this.emit({ type, response });
  }

  async run(): Promise<ResponseRunResult> {
    this.responseEvent('response.created');
    this.responseEvent('response.in_progress');
    let failure: ApiError | null = null;
    try {
      await this.loop();
    } catch (err) {
      if (err instanceof CancelledError || this.opts.signal.aborted) {
        this.finishOpenItems('incomplete');
        this.response.status = 'cancelled';
      } else {
        failure = err instanceof ApiError ? err : Object.assign(new ApiError(500, 'The response failed: an internal error occurred.', 'server_error'), { cause: err });
        this.finishOpenItems('incomplete');
        this.response.status = 'failed';
        this.response.error = { code: failure.status === 429 ? 'rate_limit_exceeded' : failure.status < 500 ? 'invalid_prompt' : 'server_error', message: failure.message } satisfies ResponseError;
      }
    }
    this.answerUnansweredCalls();
    this.response.usage = this.usage;
    if (this.response.status === 'completed') this.response.completed_at = nowSeconds();
    if (this.response.status === 'completed') this.responseEvent('response.completed');
    else if (this.response.status === 'incomplete') this.responseEvent('response.incomplete');
    else if (this.response.status === 'failed') this.responseEvent('response.failed');
    return { response: this.response, transcript: this.transcript, containerId: this.containerId, failure };
  }

  private async loop(): Promise<void> {
    const ci = this.opts.sandbox !== null;
    let forced: ChatToolChoice | undefined = this.firstToolChoice();
    // Each turn either ends the response or runs at least one tool call, which the limit bounds.
    for (;;) {
      const toolsAllowed = this.toolCalls < this.opts.maxToolCalls;
      const tools: ChatFunctionTool[] = [...(ci ? [this.pythonTool()] : []), ...this.userFunctions];
      const request: ChatRequest = {
        ...this.opts.upstreamParams,
        model: this.opts.request.model,
        messages: this.withInstructions(this.transcript),
        ...(tools.length > 0 ? { tools, tool_choice: toolsAllowed ? (forced ?? 'auto') : 'none' } : {}),
        ...(tools.length > 0 && toolsAllowed && this.opts.request.parallel_tool_calls != null ? { parallel_tool_calls: this.opts.request.parallel_tool_calls } : {}),
        ...(this.opts.request.temperature != null ? { temperature: this.opts.request.temperature } : {}),
        ...(this.opts.request.top_p != null ? { top_p: this.opts.request.top_p } : {}),
        ...(this.opts.request.max_output_tokens != null ? { max_tokens: this.opts.request.max_output_tokens } : {}),
        ...this.responseFormat(),
      };
      forced = undefined; // a forced choice applies to the first turn only, as with OpenAI
      const turn = await this.streamTurn(request, toolsAllowed);
      if (turn.finishReason === 'length' || turn.finishReason === 'content_filter') {
        // Calls cut short are not run: their items end incomplete.
        this.finishOpenItems('incomplete', true);
        this.response.status = 'incomplete';
        this.response.incomplete_details = { reason: turn.finishReason === 'length' ? 'max_output_tokens' : 'content_filter' };
        return;
      }
      if (turn.calls.length === 0 || !toolsAllowed) {
        this.response.status = 'completed';
        return;
      }
      let handBack = false;
      for (const call of turn.calls) {
        if (this.toolCalls >= this.opts.maxToolCalls) {
          // Parallel calls past the limit are not run; the model hears why.
          this.finishOpenItem(call, 'incomplete');
          this.transcript.push({ role: 'tool', tool_call_id: call.id, content: 'Not run: the limit on tool calls for this response was reached.' });
          continue;
        }
        if (call.item?.type === 'code_interpreter_call') await this.interpret(call, call.item);
        else if (call.item?.type === 'function_call') {
          this.finishFunctionCall(call, call.item);
          handBack = true;
        } else {
          this.transcript.push({ role: 'tool', tool_call_id: call.id, content: `Error: there is no tool named '${call.name}'.` });
        }
        this.toolCalls++;
      }
      if (handBack) {
        // The caller runs its own functions and continues with previous_response_id.
        this.response.status = 'completed';
        return;
      }
    }
  }

  private firstToolChoice(): ChatToolChoice | undefined {
    const choice = this.opts.request.tool_choice;
    if (!choice || choice === 'auto') return undefined;
    if (choice === 'none' || choice === 'required') return choice;
    if (choice.type === 'code_interpreter') return { type: 'function', function: { name: PYTHON_TOOL } };
    return { type: 'function', function: { name: choice.name } };
  }

  private pythonTool(): ChatFunctionTool {
    return {
      type: 'function',
      function: {
        name: PYTHON_TOOL,
        description: PYTHON_DESCRIPTION,
        parameters: { type: 'object', properties: { code: { type: 'string', description: 'The Python code to run.' } }, required: ['code'] },
      },
    };
  }

  private withInstructions(messages: ChatMessage[]): ChatMessage[] {
    const instructions = this.opts.request.instructions;
    return instructions ? [{ role: 'system', content: instructions }, ...messages] : messages;
  }

  private responseFormat(): Pick<ChatRequest, 'response_format'> {
    const format = this.opts.request.text?.format;
    if (!format || format.type === 'text') return {};
    if (format.type === 'json_object') return { response_format: { type: 'json_object' } };
    const { type: _t, ...schema } = format;
    return { response_format: { type: 'json_schema', json_schema: schema } };
  }

  /** Streams one model turn: text into a message item, tool calls into their items. */
  private async streamTurn(request: ChatRequest, toolsAllowed: boolean): Promise<{ calls: PendingCall[]; finishReason: string | null }> {
    const calls = new Map<number, PendingCall>();
    let text = '';
    let finishReason: string | null = null;
    for await (const chunk of this.opts.model(request, this.opts.signal)) {
      if (this.opts.signal.aborted) throw new CancelledError();
      if (chunk.usage) addUsage(this.usage, chunk.usage);
      for (const choice of chunk.choices ?? []) {
        if ((choice.index ?? 0) !== 0) continue;
        const delta = choice.delta ?? {};
        const piece = (delta.content ?? '') + (delta.refusal ?? '');
        if (piece) {
          text += piece;
          this.textDelta(piece);
        }
        for (const tc of delta.tool_calls ?? []) {
          const call = callFor(calls, tc);
          // Some servers repeat the whole name in every chunk; others split it.
          const name = tc.function?.name ?? '';
          if (name && !call.args && name !== call.name) call.name = call.name && name.startsWith(call.name) ? name : call.name + name;
          const args = tc.function?.arguments ?? '';
          call.args += args;
          if (args.length > MAX_CALL_ARGUMENTS) throw new ApiError(502, 'The model upstream sent tool-call arguments past the size limit.', 'api_error', null, 'upstream_error');
          // The item opens once the arguments begin, so the name is whole.
          if (!call.item && call.name && call.args && toolsAllowed) await this.openCall(call);
          else if (call.item) this.callArguments(call, args);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    }
    if (this.opts.signal.aborted) throw new CancelledError();
    this.closeMessage(finishReason === 'length' ? 'incomplete' : 'completed');
    const list = [...calls.values()].sort((a, b) => a.index - b.index).filter((c) => c.name);
    if (finishReason !== 'length') for (const call of list) if (!call.item && toolsAllowed) await this.openCall(call);
    const kept = toolsAllowed ? list : [];
    // An assistant turn with neither text nor calls (a server that called tools it was not offered) is not kept.
    if (text || kept.length > 0) {
      this.transcript.push({
        role: 'assistant',
        content: text || null,
        ...(kept.length > 0 ? { tool_calls: kept.map((c): ChatToolCall => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })) } : {}),
      });
    }
    return { calls: kept, finishReason };
  }

  private textDelta(delta: string): void {
    if (!this.message) {
      const item: MessageItem = { type: 'message', id: newId('message'), role: 'assistant', status: 'in_progress', content: [] };
      const outputIndex = this.response.output.push(item) - 1;
      this.message = { item, outputIndex };
      this.emit({ type: 'response.output_item.added', output_index: outputIndex, item: structuredClone(item) });
      item.content.push({ type: 'output_text', text: '', annotations: [], logprobs: [] });
      this.emit({ type: 'response.content_part.added', item_id: item.id, output_index: outputIndex, content_index: 0, part: structuredClone(item.content[0]!) });
    }
    const { item, outputIndex } = this.message;
    item.content[0]!.text += delta;
    this.emit({ type: 'response.output_text.delta', item_id: item.id, output_index: outputIndex, content_index: 0, delta, logprobs: [] });
  }

  /** Ends the open message: its citations, then the done events. */
  private closeMessage(status: 'completed' | 'incomplete'): void {
    if (!this.message) return;
    const { item, outputIndex } = this.message;
    this.message = null;
    const part = item.content[0]!;
    part.annotations = citeFiles(part.text, this.citable);
    part.annotations.forEach((annotation, i) =>
      this.emit({ type: 'response.output_text.annotation.added', item_id: item.id, output_index: outputIndex, content_index: 0, annotation_index: i, annotation }),
    );
    this.emit({ type: 'response.output_text.done', item_id: item.id, output_index: outputIndex, content_index: 0, text: part.text, logprobs: [] });
    this.emit({ type: 'response.content_part.done', item_id: item.id, output_index: outputIndex, content_index: 0, part: structuredClone(part) });
    item.status = status;
    this.emit({ type: 'response.output_item.done', output_index: outputIndex, item: structuredClone(item) });
  }

  /** A tool call whose name is known gets its output item; the arguments so far are replayed into it. */
  private async openCall(call: PendingCall): Promise<void> {
    // Text before a tool call is its own message, finished before the call's item begins.
    this.closeMessage('completed');
    if (call.name === PYTHON_TOOL && this.opts.sandbox) {
      this.containerId ??= await this.opts.sandbox.container();
      const item: CodeInterpreterCallItem = { type: 'code_interpreter_call', id: newId('codeInterpreterCall'), code: '', container_id: this.containerId, status: 'in_progress', outputs: null };
      call.item = item;
      call.code = new CodeArgumentStream();
      call.outputIndex = this.response.output.push(item) - 1;
      this.emit({ type: 'response.output_item.added', output_index: call.outputIndex, item: structuredClone(item) });
      this.emit({ type: 'response.code_interpreter_call.in_progress', item_id: item.id, output_index: call.outputIndex });
    } else if (this.userFunctions.some((f) => f.function.name === call.name)) {
      const item: FunctionCallItem = { type: 'function_call', id: newId('functionCall'), call_id: call.id, name: call.name, arguments: '', status: 'in_progress' };
      call.item = item;
      call.outputIndex = this.response.output.push(item) - 1;
      this.emit({ type: 'response.output_item.added', output_index: call.outputIndex, item: structuredClone(item) });
    } else {
      return; // a tool the model made up: answered with an error in the transcript
    }
    this.callArguments(call, call.args);
  }

  private callArguments(call: PendingCall, args: string): void {
    if (!args || !call.item) return;
    if (call.item.type === 'code_interpreter_call') {
      const delta = call.code!.push(args);
      if (!delta) return;
      call.item.code += delta;
      this.emit({ type: 'response.code_interpreter_call_code.delta', item_id: call.item.id, output_index: call.outputIndex, delta });
    } else {
      call.item.arguments += args;
      this.emit({ type: 'response.function_call_arguments.delta', item_id: call.item.id, output_index: call.outputIndex, delta: args });
    }
  }

  private finishFunctionCall(call: PendingCall, item: FunctionCallItem): void {
    item.arguments = call.args;
    item.status = 'completed';
    this.emit({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: call.outputIndex, name: item.name, arguments: item.arguments });
    this.emit({ type: 'response.output_item.done', output_index: call.outputIndex, item: structuredClone(item) });
  }

  /** Runs a python call's code and feeds the result back to the model. */
  private async interpret(call: PendingCall, item: CodeInterpreterCallItem): Promise<void> {
    const code = call.code!.finish();
    // Deltas must add up to the code: send what the stream could not decode (e.g. bare code).
    if (code.startsWith(item.code) && code.length > item.code.length) {
      const rest = code.slice(item.code.length);
      this.emit({ type: 'response.code_interpreter_call_code.delta', item_id: item.id, output_index: call.outputIndex, delta: rest });
    }
    item.code = code;
    this.emit({ type: 'response.code_interpreter_call_code.done', item_id: item.id, output_index: call.outputIndex, code });
    item.status = 'interpreting';
    this.emit({ type: 'response.code_interpreter_call.interpreting', item_id: item.id, output_index: call.outputIndex });
    const execution = await this.opts.sandbox!.run(item.container_id, code, this.opts.signal);
    if (this.opts.signal.aborted) throw new CancelledError();
    for (const file of execution.files) this.citable.push({ containerId: item.container_id, fileId: file.id, path: file.path });
    const outputs: CodeInterpreterOutput[] = [];
    const logs = logsOf(execution);
    if (logs) outputs.push({ type: 'logs', logs });
    for (const result of execution.results) {
      if (result.type === 'image') outputs.push({ type: 'image', url: this.opts.sandbox!.fileUrl(item.container_id, result.file_id) });
    }
    item.outputs = outputs;
    this.opts.onExecution?.(item, execution);
    // A Python exception is the code's outcome, not the tool's: only a timeout or a lost sandbox fails the call.
    item.status = execution.status === 'timed_out' || (execution.status === 'failed' && execution.state_lost) ? 'failed' : 'completed';
    this.emit({ type: 'response.code_interpreter_call.completed', item_id: item.id, output_index: call.outputIndex });
    this.emit({ type: 'response.output_item.done', output_index: call.outputIndex, item: structuredClone(item) });
    this.transcript.push({ role: 'tool', tool_call_id: call.id, content: toolResultForModel(execution) });
  }

  /**
   * Items still open end `incomplete`. On failure or cancellation no events are sent (the response's
   * last event says why); when the model's output was cut short (`withEvents`), each item is done.
   */
  private finishOpenItems(status: 'incomplete', withEvents = false): void {
    if (this.message) {
      if (withEvents) this.closeMessage(status);
      else this.message.item.status = status;
      this.message = null;
    }
    this.response.output.forEach((item, outputIndex) => {
      if (item.status !== 'in_progress' && item.status !== 'interpreting') return;
      item.status = status;
      if (withEvents) this.emit({ type: 'response.output_item.done', output_index: outputIndex, item: structuredClone(item) });
    });
  }

  /** Ends one call's item without running it. */
  private finishOpenItem(call: PendingCall, status: 'incomplete'): void {
    if (!call.item || (call.item.status !== 'in_progress' && call.item.status !== 'interpreting')) return;
    call.item.status = status;
    this.emit({ type: 'response.output_item.done', output_index: call.outputIndex, item: structuredClone(call.item) });
  }

  /**
   * Every tool call in the conversation gets an answer, so a follow-up (`previous_response_id`) is a
   * valid conversation: calls cut short, cancelled or failed are answered as not run. The caller's
   * own function calls are left for the caller to answer.
   */
  private answerUnansweredCalls(): void {
    const answered = new Set(this.transcript.flatMap((m) => (m.role === 'tool' ? [m.tool_call_id] : [])));
    const handedBack = new Set(this.response.output.flatMap((i) => (i.type === 'function_call' && i.status === 'completed' ? [i.call_id] : [])));
    for (const m of [...this.transcript]) {
      if (m.role !== 'assistant' || !m.tool_calls) continue;
      for (const call of m.tool_calls) {
        if (answered.has(call.id) || handedBack.has(call.id)) continue;
        this.transcript.push({ role: 'tool', tool_call_id: call.id, content: 'Not run: the response ended before this call could run.' });
        answered.add(call.id);
      }
    }
  }
}
