import type { Response, ResponseOutputItem, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describeFacts } from './errors';

/** What a code interpreter call showed: its logs (stdout, stderr, traceback) and its images. */
export type CodeOutput = { type: 'logs'; logs: string } | { type: 'image'; url: string };

/** A `container_file_citation`: the span of the answer that names a file the code made. */
export interface Citation {
  containerId: string;
  fileId: string;
  filename: string;
  start: number;
  end: number;
}

export interface CodeItem {
  kind: 'code';
  id: string;
  code: string;
  status: string;
  containerId: string;
  /** null until the call completes (or when `include` did not ask for them). */
  outputs: CodeOutput[] | null;
}

export interface TextItem {
  kind: 'text';
  id: string;
  text: string;
  citations: Citation[];
}

export type TurnItem = CodeItem | TextItem;

export interface UserTurn {
  role: 'user';
  text: string;
  files: string[];
}

export interface AssistantTurn {
  role: 'assistant';
  responseId: string | null;
  status: 'in_progress' | 'completed' | 'failed' | 'incomplete' | 'cancelled';
  /** By `output_index`; output items the page does not show (function calls, reasoning) are left empty. */
  items: (TurnItem | undefined)[];
  /** Why it failed or stopped short, in words. */
  error: string | null;
}

export type Turn = UserTurn | AssistantTurn;

export const newAssistantTurn = (): AssistantTurn => ({ role: 'assistant', responseId: null, status: 'in_progress', items: [], error: null });

/** The page's view of one output item, or undefined for kinds it does not show. */
export function itemOf(item: ResponseOutputItem): TurnItem | undefined {
  if (item.type === 'code_interpreter_call') {
    return { kind: 'code', id: item.id, code: item.code ?? '', status: item.status, containerId: item.container_id, outputs: item.outputs };
  }
  if (item.type === 'message') {
    const parts = item.content.flatMap((part) => (part.type === 'output_text' ? [part] : []));
    const citations: Citation[] = [];
    let text = '';
    for (const part of parts) {
      for (const a of part.annotations) {
        if (a.type === 'container_file_citation') {
          citations.push({ containerId: a.container_id, fileId: a.file_id, filename: a.filename, start: text.length + a.start_index, end: text.length + a.end_index });
        }
      }
      text += part.text;
    }
    return { kind: 'text', id: item.id, text, citations };
  }
  return undefined;
}

function withItem<K extends TurnItem['kind']>(
  turn: AssistantTurn,
  index: number,
  kind: K,
  change: (item: Extract<TurnItem, { kind: K }>) => Extract<TurnItem, { kind: K }>,
): AssistantTurn {
  const item = turn.items[index];
  if (item?.kind !== kind) return turn;
  const items = [...turn.items];
  items[index] = change(item as Extract<TurnItem, { kind: K }>);
  return { ...turn, items };
}

function finished(turn: AssistantTurn, response: Response): AssistantTurn {
  const status = response.status === 'completed' || response.status === 'failed' || response.status === 'incomplete' || response.status === 'cancelled' ? response.status : turn.status;
  const reason = response.status === 'incomplete' ? `The answer was cut short (${response.incomplete_details?.reason ?? 'incomplete'}).` : null;
  return {
    ...turn,
    responseId: response.id,
    status,
    // The final response is the authority: it has every item whole.
    items: response.output.map(itemOf),
    error: response.error ? describeFacts({ code: response.error.code, message: response.error.message }) : reason,
  };
}

/** Folds one Responses API stream event into the turn it belongs to. Pure: returns a new turn. */
export function applyEvent(turn: AssistantTurn, event: ResponseStreamEvent): AssistantTurn {
  switch (event.type) {
    case 'response.created':
    case 'response.in_progress':
      return { ...turn, responseId: event.response.id };
    case 'response.output_item.added':
    case 'response.output_item.done': {
      const items = [...turn.items];
      items[event.output_index] = itemOf(event.item);
      return { ...turn, items };
    }
    case 'response.code_interpreter_call_code.delta':
      return withItem(turn, event.output_index, 'code', (item) => ({ ...item, code: item.code + event.delta }));
    case 'response.code_interpreter_call_code.done':
      return withItem(turn, event.output_index, 'code', (item) => ({ ...item, code: event.code }));
    case 'response.code_interpreter_call.in_progress':
      return withItem(turn, event.output_index, 'code', (item) => ({ ...item, status: 'in_progress' }));
    case 'response.code_interpreter_call.interpreting':
      return withItem(turn, event.output_index, 'code', (item) => ({ ...item, status: 'interpreting' }));
    case 'response.code_interpreter_call.completed':
      return withItem(turn, event.output_index, 'code', (item) => ({ ...item, status: 'completed' }));
    case 'response.output_text.delta':
      return withItem(turn, event.output_index, 'text', (item) => ({ ...item, text: item.text + event.delta }));
    case 'response.output_text.annotation.added': {
      const a = event.annotation;
      if (a?.type !== 'container_file_citation') return turn;
      const citation = { containerId: a.container_id, fileId: a.file_id, filename: a.filename, start: a.start_index, end: a.end_index };
      return withItem(turn, event.output_index, 'text', (item) => ({ ...item, citations: [...item.citations, citation] }));
    }
    case 'response.completed':
    case 'response.failed':
    case 'response.incomplete':
      return finished(turn, event.response);
    case 'error':
      return { ...turn, status: 'failed', error: describeFacts({ code: event.code, message: event.message }) };
    default:
      return turn;
  }
}

/** The container the conversation's code ran in last, if any. */
export function containerOf(turns: Turn[]): string | null {
  for (const turn of [...turns].reverse()) {
    if (turn.role !== 'assistant') continue;
    const code = [...turn.items].reverse().find((item): item is CodeItem => item?.kind === 'code');
    if (code) return code.containerId;
  }
  return null;
}

/** The answer's citations that can be shown: in order, within the text, none overlapping another. */
export function usableCitations(item: TextItem): Citation[] {
  const usable: Citation[] = [];
  let at = 0;
  for (const citation of [...item.citations].sort((a, b) => a.start - b.start)) {
    if (citation.start < at || citation.end > item.text.length || citation.end <= citation.start) continue;
    usable.push(citation);
    at = citation.end;
  }
  return usable;
}
