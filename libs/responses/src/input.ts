import { InvalidRequestError, newId } from '@cibox/contracts';
import type { ChatContentPart, ChatMessage, ChatToolCall } from './chat';
import type { ContentPart, CreateResponseRequest, InputItemParam } from './request';
import type { InputItem } from './wire';

/** Files named by input parts, as the api resolves them. */
export interface InputFilesPort {
  /** Puts a Files API file (or inline base64 data) in the container's /mnt/data; returns its path. */
  attach(file: { file_id?: string | null; file_data?: string; filename?: string }, param: string): Promise<string>;
  /** A data: URL of an uploaded image file, for models that read images. */
  imageUrl(fileId: string, param: string): Promise<string>;
}

export interface ConvertedInput {
  /** The new input as chat messages for the model. */
  messages: ChatMessage[];
  /** The new input as stored items (`GET /v1/responses/{id}/input_items`), each with an id. */
  items: InputItem[];
}

function textOf(content: string | ContentPart[]): string {
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'input_text' || p.type === 'output_text' ? p.text : p.type === 'refusal' ? p.refusal : '')).join('');
}

/**
 * Converts a request's `input` into chat messages. Input files are placed in the sandbox and the
 * model is told their paths; replayed output items become the assistant turns and tool results they
 * were; consecutive tool calls share one assistant message, as Chat Completions requires.
 */
export async function convertInput(input: CreateResponseRequest['input'], files: InputFilesPort | null): Promise<ConvertedInput> {
  const list: InputItemParam[] = typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
  const messages: ChatMessage[] = [];
  const items: InputItem[] = [];
  const pushToolCall = (call: ChatToolCall) => {
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant' && last.tool_calls) last.tool_calls.push(call);
    else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
  };

  for (const [i, item] of list.entries()) {
    const param = `input[${i}]`;
    switch (item.type) {
      case 'message': {
        const content = typeof item.content === 'string' ? [{ type: 'input_text' as const, text: item.content }] : item.content;
        items.push({ type: 'message', id: item.id ?? newId('message'), role: item.role, status: 'completed', content });
        if (item.role === 'assistant') {
          messages.push({ role: 'assistant', content: textOf(item.content) });
        } else if (item.role === 'system' || item.role === 'developer') {
          // Many OpenAI-compatible servers know no `developer` role.
          messages.push({ role: 'system', content: textOf(item.content) });
        } else {
          messages.push({ role: 'user', content: await userContent(content, files, param) });
        }
        break;
      }
      case 'function_call_output': {
        const output = typeof item.output === 'string' ? item.output : textOf(item.output);
        items.push({ type: 'function_call_output', id: item.id ?? newId('functionCall'), call_id: item.call_id, output: item.output, status: 'completed' });
        messages.push({ role: 'tool', tool_call_id: item.call_id, content: output });
        break;
      }
      case 'function_call': {
        items.push({ type: 'function_call', id: item.id ?? newId('functionCall'), call_id: item.call_id, name: item.name, arguments: item.arguments, status: 'completed' });
        pushToolCall({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
        break;
      }
      case 'code_interpreter_call': {
        const code = item.code ?? '';
        items.push({ type: 'code_interpreter_call', id: item.id, code, container_id: item.container_id, status: 'completed', outputs: (item.outputs ?? null) as never });
        pushToolCall({ id: item.id, type: 'function', function: { name: 'python', arguments: JSON.stringify({ code }) } });
        const logs = (item.outputs ?? []).flatMap((o) => (o.type === 'logs' ? [o.logs] : []));
        messages.push({ role: 'tool', tool_call_id: item.id, content: logs.join('\n') || '[output not available]' });
        break;
      }
    }
  }
  return { messages, items };
}

async function userContent(parts: ContentPart[], files: InputFilesPort | null, param: string): Promise<string | ChatContentPart[]> {
  const out: ChatContentPart[] = [];
  for (const [j, part] of parts.entries()) {
    const at = `${param}.content[${j}]`;
    if (part.type === 'input_text' || part.type === 'output_text') out.push({ type: 'text', text: part.text });
    else if (part.type === 'refusal') out.push({ type: 'text', text: part.refusal });
    else if (part.type === 'input_image') {
      const url = part.image_url ?? (part.file_id && files ? await files.imageUrl(part.file_id, `${at}.file_id`) : null);
      if (!url) throw new InvalidRequestError('An input_image needs image_url or file_id.', at);
      out.push({ type: 'image_url', image_url: { url, ...(part.detail && part.detail !== 'original' ? { detail: part.detail } : {}) } });
    } else if (part.type === 'input_file') {
      if (part.file_url) throw new InvalidRequestError('input_file by file_url is not supported (sandboxes have no network); upload the file and pass file_id.', `${at}.file_url`);
      if (!part.file_id && !part.file_data) throw new InvalidRequestError('An input_file needs file_id or file_data.', at);
      if (!files) throw new InvalidRequestError('input_file parts need the code_interpreter tool: the file is placed in its container for code to read.', at);
      const path = await files.attach(part, at);
      out.push({ type: 'text', text: `[The user attached a file; it is available to the python tool at ${path}]` });
    }
  }
  return out.every((p) => p.type === 'text') ? out.map((p) => (p as { text: string }).text).join('\n') : out;
}
