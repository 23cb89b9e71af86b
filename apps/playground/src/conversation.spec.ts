import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { applyEvent, containerOf, newAssistantTurn, usableCitations, type AssistantTurn, type TextItem } from './conversation';

const fold = (events: unknown[]): AssistantTurn => events.reduce<AssistantTurn>((turn, e) => applyEvent(turn, e as ResponseStreamEvent), newAssistantTurn());

const call = { type: 'code_interpreter_call', id: 'ci_1', code: '', container_id: 'cntr_1', outputs: null, status: 'in_progress' };
const message = { type: 'message', id: 'msg_1', role: 'assistant', status: 'in_progress', content: [] };
const citation = { type: 'container_file_citation', container_id: 'cntr_1', file_id: 'cfile_1', filename: 'a.png', start_index: 4, end_index: 27 };

describe('applyEvent', () => {
  it('shows the code as its deltas arrive, then the outputs of the finished call', () => {
    const streaming = fold([
      { type: 'response.created', response: { id: 'resp_1' } },
      { type: 'response.output_item.added', output_index: 0, item: call },
      { type: 'response.code_interpreter_call_code.delta', output_index: 0, delta: 'print(' },
      { type: 'response.code_interpreter_call_code.delta', output_index: 0, delta: '1)' },
    ]);
    expect(streaming.responseId).toBe('resp_1');
    expect(streaming.items[0]).toMatchObject({ kind: 'code', code: 'print(1)', status: 'in_progress', containerId: 'cntr_1' });

    const done = [
      { type: 'response.code_interpreter_call.interpreting', output_index: 0 },
      { type: 'response.output_item.done', output_index: 0, item: { ...call, code: 'print(1)', status: 'completed', outputs: [{ type: 'logs', logs: '1\n' }] } },
    ].reduce((turn, e) => applyEvent(turn, e as ResponseStreamEvent), streaming);
    expect(done.items[0]).toMatchObject({ kind: 'code', status: 'completed', outputs: [{ type: 'logs', logs: '1\n' }] });
  });

  it('builds the answer from text deltas and its citations from annotation events', () => {
    const turn = fold([
      { type: 'response.output_item.added', output_index: 1, item: message },
      { type: 'response.output_text.delta', output_index: 1, content_index: 0, delta: 'See ' },
      { type: 'response.output_text.delta', output_index: 1, content_index: 0, delta: 'sandbox:/mnt/data/a.png' },
      { type: 'response.output_text.annotation.added', output_index: 1, content_index: 0, annotation_index: 0, annotation: citation },
    ]);
    expect(turn.items[0]).toBeUndefined();
    expect(turn.items[1]).toEqual({ kind: 'text', id: 'msg_1', text: 'See sandbox:/mnt/data/a.png', citations: [{ containerId: 'cntr_1', fileId: 'cfile_1', filename: 'a.png', start: 4, end: 27 }] });
  });

  it('takes the final response as the authority, and a failure in words', () => {
    const failed = { id: 'resp_2', status: 'failed', output: [], error: { code: 'server_error', message: 'The model upstream at x did not answer.' } } as unknown as Response;
    const turn = fold([{ type: 'response.output_item.added', output_index: 0, item: call }, { type: 'response.failed', response: failed }]);
    expect(turn).toMatchObject({ responseId: 'resp_2', status: 'failed', items: [] });
    expect(turn.error).toBe('The response failed: The model upstream at x did not answer.');
  });

  it('ignores events for items it does not show', () => {
    const turn = fold([{ type: 'response.output_item.added', output_index: 0, item: { type: 'function_call', id: 'fc_1', name: 'f', arguments: '', call_id: 'c' } }, { type: 'response.function_call_arguments.delta', output_index: 0, delta: '{' }]);
    expect(turn.items).toEqual([undefined]);
  });
});

describe('usableCitations', () => {
  it('keeps the citations in order, skipping overlapping or out-of-range ones', () => {
    const item: TextItem = {
      kind: 'text',
      id: 'm',
      text: 'a X b Y',
      citations: [
        { containerId: 'c', fileId: 'f2', filename: 'y', start: 6, end: 7 },
        { containerId: 'c', fileId: 'f1', filename: 'x', start: 2, end: 3 },
        { containerId: 'c', fileId: 'f3', filename: 'z', start: 2, end: 4 },
        { containerId: 'c', fileId: 'f4', filename: 'w', start: 6, end: 99 },
      ],
    };
    expect(usableCitations(item).map((c) => c.fileId)).toEqual(['f1', 'f2']);
  });
});

describe('containerOf', () => {
  it('is the container of the newest code call', () => {
    const first = { ...newAssistantTurn(), items: [{ kind: 'code' as const, id: 'a', code: '', status: 'completed', containerId: 'cntr_old', outputs: null }] };
    const second = { ...newAssistantTurn(), items: [{ kind: 'code' as const, id: 'b', code: '', status: 'completed', containerId: 'cntr_new', outputs: null }] };
    expect(containerOf([])).toBeNull();
    expect(containerOf([{ role: 'user', text: 'hi', files: [] }, first, { role: 'user', text: 'again', files: [] }, second])).toBe('cntr_new');
    expect(containerOf([first, { ...newAssistantTurn() }])).toBe('cntr_old');
  });
});
