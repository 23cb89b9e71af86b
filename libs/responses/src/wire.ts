/**
 * The Responses API objects we serve, field for field as the official SDKs type them
 * (/work/shared/reference/openai-sdk-wire.md §2–§4). Only the members we produce are modelled.
 */

export type Annotation = {
  type: 'container_file_citation';
  container_id: string;
  file_id: string;
  filename: string;
  start_index: number;
  end_index: number;
};

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: Annotation[];
  logprobs: never[];
}

export interface MessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: OutputText[];
}

export type CodeInterpreterOutput = { type: 'logs'; logs: string } | { type: 'image'; url: string };

export interface CodeInterpreterCallItem {
  type: 'code_interpreter_call';
  id: string;
  code: string;
  container_id: string;
  status: 'in_progress' | 'interpreting' | 'completed' | 'incomplete' | 'failed';
  outputs: CodeInterpreterOutput[] | null;
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export type OutputItem = MessageItem | CodeInterpreterCallItem | FunctionCallItem;

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'incomplete' | 'cancelled';

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseError {
  code: 'server_error' | 'rate_limit_exceeded' | 'invalid_prompt';
  message: string;
}

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  completed_at: number | null;
  model: string;
  output: OutputItem[];
  error: ResponseError | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  tool_choice: unknown;
  tools: unknown[];
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  previous_response_id: string | null;
  text: unknown;
  truncation: 'disabled' | 'auto';
  background: boolean;
  store: boolean;
  usage: ResponseUsage | null;
  user: string | null;
  reasoning: unknown;
  service_tier: string;
  access_programs: null;
  /** Valid OpenAI fields we accept without acting on them, echoed as sent. */
  [echoed: string]: unknown;
}

/** Every stream event we emit; `sequence_number` is added when it is sent. */
export type ResponseEventBody =
  | { type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.failed' | 'response.incomplete'; response: ResponseObject }
  | { type: 'response.output_item.added' | 'response.output_item.done'; output_index: number; item: OutputItem }
  | {
      type: 'response.content_part.added' | 'response.content_part.done';
      item_id: string;
      output_index: number;
      content_index: number;
      part: OutputText;
    }
  | { type: 'response.output_text.delta'; item_id: string; output_index: number; content_index: number; delta: string; logprobs: never[] }
  | { type: 'response.output_text.done'; item_id: string; output_index: number; content_index: number; text: string; logprobs: never[] }
  | {
      type: 'response.output_text.annotation.added';
      item_id: string;
      output_index: number;
      content_index: number;
      annotation_index: number;
      annotation: Annotation;
    }
  | {
      type: 'response.code_interpreter_call.in_progress' | 'response.code_interpreter_call.interpreting' | 'response.code_interpreter_call.completed';
      item_id: string;
      output_index: number;
    }
  | { type: 'response.code_interpreter_call_code.delta'; item_id: string; output_index: number; delta: string }
  | { type: 'response.code_interpreter_call_code.done'; item_id: string; output_index: number; code: string }
  | { type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string }
  | { type: 'response.function_call_arguments.done'; item_id: string; output_index: number; name: string; arguments: string };

export type ResponseEvent = ResponseEventBody & { sequence_number: number };

/** Items of `GET /v1/responses/{id}/input_items`. */
export type InputItem =
  | { type: 'message'; id: string; role: 'user' | 'system' | 'developer' | 'assistant'; status: 'completed'; content: unknown[] }
  | { type: 'function_call_output'; id: string; call_id: string; output: unknown; status: 'completed' }
  | (OutputItem & { id: string });
