import type { ExecutionObject } from '@cibox/contracts';
import type { ChatChunkChoice } from '@cibox/model';
import { ONE_CODE_CALL_EVENT_TYPES, distinctRuns } from '@cibox/testing';
import type { ChatChunk, ChatRequest } from './chat';
import { parseCreateResponse } from './request';
import { ResponseRun, presentEvent, type SandboxPort } from './response-run';
import type { ResponseEvent } from './wire';

type Turn = { content?: string; calls?: { name: string; arguments: string }[]; finish?: string };

const chunk = (delta: ChatChunkChoice['delta'], finish_reason: string | null = null): ChatChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason }],
});

/** A model that plays `turns` in order, splitting text and arguments into 3-character chunks. */
function scriptedModel(turns: Turn[], seen: ChatRequest[] = []) {
  return async function* (request: ChatRequest): AsyncIterable<ChatChunk> {
    seen.push(structuredClone(request));
    await Promise.resolve(); // a real upstream answers asynchronously
    const turn = turns.shift();
    if (!turn) throw new Error('no more turns');
    yield chunk({ role: 'assistant' });
    for (let i = 0; i < (turn.content ?? '').length; i += 3) yield chunk({ content: turn.content!.slice(i, i + 3) });
    for (const [index, call] of (turn.calls ?? []).entries()) {
      yield chunk({ tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: call.name, arguments: '' } }] });
      for (let i = 0; i < call.arguments.length; i += 3) yield chunk({ tool_calls: [{ index, function: { arguments: call.arguments.slice(i, i + 3) } }] });
    }
    yield chunk({}, turn.finish ?? (turn.calls ? 'tool_calls' : 'stop'));
    yield { ...chunk({}), choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } };
  };
}

function execution(over: Partial<ExecutionObject> = {}): ExecutionObject {
  return {
    id: 'exec_1',
    object: 'container.execution',
    container_id: 'cntr_1',
    created_at: 0,
    status: 'completed',
    stdout: '',
    stderr: '',
    results: [],
    error: null,
    files: [],
    duration_ms: 1,
    state_lost: false,
    truncated: { stdout: false, stderr: false },
    ...over,
  };
}

function fakeSandbox(results: ExecutionObject[], ran: string[] = []): SandboxPort {
  return {
    container: () => Promise.resolve('cntr_1'),
    run: (_c, code) => {
      ran.push(code);
      return Promise.resolve(results.shift() ?? execution());
    },
    fileUrl: (c, f) => `http://x/v1/containers/${c}/files/${f}/content?sig`,
  };
}

async function run(body: Record<string, unknown>, turns: Turn[], sandbox: SandboxPort | null, seen: ChatRequest[] = []) {
  const events: ResponseEvent[] = [];
  const request = parseCreateResponse({ model: 'm', ...body });
  const r = new ResponseRun({
    id: 'resp_1',
    request,
    model: scriptedModel(turns, seen),
    sandbox,
    messages: [{ role: 'user', content: 'hi' }],
    maxToolCalls: request.max_tool_calls ?? 20,
    emit: (e) => events.push(e),
    signal: new AbortController().signal,
  });
  return { ...(await r.run()), events };
}

describe('ResponseRun', () => {
  it('streams a code call, runs it, and cites the file the answer mentions', async () => {
    const code = 'import matplotlib\nprint("hi")';
    const ran: string[] = [];
    const file = { id: 'cfile_9', object: 'container.file' as const, created_at: 0, bytes: 3, container_id: 'cntr_1', path: '/mnt/data/plot.png', filename: 'plot.png', source: 'assistant' as const };
    const sandbox = fakeSandbox([execution({ stdout: 'hi\n', files: [file], results: [{ type: 'image', format: 'png', file_id: 'cfile_9' }] })], ran);
    const seen: ChatRequest[] = [];
    const { response, events, transcript } = await run(
      { input: 'plot', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], include: ['code_interpreter_call.outputs'] },
      [{ calls: [{ name: 'python', arguments: JSON.stringify({ code }) }] }, { content: 'See [plot](sandbox:/mnt/data/plot.png).' }],
      sandbox,
      seen,
    );
    expect(ran).toEqual([code]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = distinctRuns(events.map((e) => e.type));
    expect(types).toEqual(ONE_CODE_CALL_EVENT_TYPES);
    const deltas = events.filter((e) => e.type === 'response.code_interpreter_call_code.delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((e) => (e as { delta: string }).delta).join('')).toBe(code);
    expect(response.status).toBe('completed');
    expect(response.output[0]).toMatchObject({ type: 'code_interpreter_call', code, container_id: 'cntr_1', status: 'completed' });
    expect(response.output[0]).toMatchObject({ outputs: [{ type: 'logs', logs: 'hi\n' }, { type: 'image', url: expect.stringContaining('cfile_9') }] });
    const message = response.output[1];
    expect(message).toMatchObject({ type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'See [plot](sandbox:/mnt/data/plot.png).' }] });
    expect((message as { content: { annotations: unknown[] }[] }).content[0]!.annotations).toEqual([
      { type: 'container_file_citation', container_id: 'cntr_1', file_id: 'cfile_9', filename: 'plot.png', start_index: 11, end_index: 37 },
    ]);
    expect(response.usage).toMatchObject({ input_tokens: 20, output_tokens: 10, total_tokens: 30 });
    // The model saw the python tool, then the tool result.
    expect(seen[0]!.tools?.map((t) => t.function.name)).toEqual(['python']);
    expect(seen[1]!.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_0', content: expect.stringContaining('[stdout]\nhi') });
    expect(transcript.at(-1)).toEqual({ role: 'assistant', content: 'See [plot](sandbox:/mnt/data/plot.png).' });
  });

  it('leaves outputs null unless included', async () => {
    const { response, events } = await run({ input: 'x', tools: [{ type: 'code_interpreter' }] }, [{ calls: [{ name: 'python', arguments: '{"code":"1"}' }] }, { content: 'ok' }], fakeSandbox([execution({ stdout: 'x' })]));
    expect(response.output[0]).toMatchObject({ outputs: [{ type: 'logs', logs: 'x\n' }] }); // kept for storage
    // Events carry the outputs; a reader's include decides what it is shown.
    const done = events.find((e) => e.type === 'response.output_item.done')!;
    expect(done).toMatchObject({ item: { type: 'code_interpreter_call', outputs: [{ type: 'logs', logs: 'x\n' }] } });
    expect(presentEvent(done, false)).toMatchObject({ item: { type: 'code_interpreter_call', outputs: null } });
    const completed = presentEvent(events.at(-1)!, false) as { response: { output: { outputs?: unknown }[] } };
    expect(completed.response.output[0]!.outputs).toBeNull();
  });

  it('hands a function call back to the caller and stops', async () => {
    const { response, events } = await run(
      { input: 'weather?', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }, { type: 'code_interpreter' }] },
      [{ calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] }],
      fakeSandbox([]),
    );
    expect(response.status).toBe('completed');
    expect(response.output).toEqual([{ type: 'function_call', id: expect.stringMatching(/^fc_/), call_id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' }]);
    expect(events.filter((e) => e.type === 'response.function_call_arguments.delta').length).toBeGreaterThan(2);
  });

  it('stops offering tools at max_tool_calls and asks for the answer', async () => {
    const seen: ChatRequest[] = [];
    const call = { name: 'python', arguments: '{"code":"1"}' };
    const { response } = await run({ input: 'loop', tools: [{ type: 'code_interpreter' }], max_tool_calls: 2 }, [{ calls: [call] }, { calls: [call] }, { content: 'done' }], fakeSandbox([]), seen);
    expect(response.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'code_interpreter_call', 'message']);
    expect(seen.map((r) => r.tool_choice)).toEqual(['auto', 'auto', 'none']);
  });

  it('forces the tool on the first turn only', async () => {
    const seen: ChatRequest[] = [];
    await run({ input: 'x', tools: [{ type: 'code_interpreter' }], tool_choice: { type: 'code_interpreter' } }, [{ calls: [{ name: 'python', arguments: '{"code":"1"}' }] }, { content: 'ok' }], fakeSandbox([]), seen);
    expect(seen.map((r) => r.tool_choice)).toEqual([{ type: 'function', function: { name: 'python' } }, 'auto']);
  });

  it('ends incomplete when the model hits max_output_tokens', async () => {
    const { response, events } = await run({ input: 'x', max_output_tokens: 5 }, [{ content: 'partial', finish: 'length' }], null);
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(events.at(-1)!.type).toBe('response.incomplete');
  });

  it('fails with the model error, closing open items', async () => {
    const failing = async function* (): AsyncIterable<ChatChunk> {
      yield await Promise.resolve(chunk({ content: 'par' }));
      throw new Error('connection reset');
    };
    const events: ResponseEvent[] = [];
    const r = new ResponseRun({ id: 'resp_2', request: parseCreateResponse({ model: 'm', input: 'x' }), model: failing, sandbox: null, messages: [], maxToolCalls: 5, emit: (e) => events.push(e), signal: new AbortController().signal });
    const { response, failure } = await r.run();
    expect(response.status).toBe('failed');
    expect(response.error).toEqual({ code: 'server_error', message: expect.any(String) });
    expect(failure).not.toBeNull();
    expect(response.output[0]!.status).toBe('incomplete');
    expect(events.at(-1)!.type).toBe('response.failed');
  });

  it('runs parallel calls of one turn one after another, each its own item, and answers each', async () => {
    const ran: string[] = [];
    const seen: ChatRequest[] = [];
    const { response } = await run(
      { input: 'two', tools: [{ type: 'code_interpreter' }] },
      [{ calls: [{ name: 'python', arguments: '{"code":"a = 1"}' }, { name: 'python', arguments: '{"code":"b = 2"}' }] }, { content: 'both' }],
      fakeSandbox([], ran),
      seen,
    );
    expect(ran).toEqual(['a = 1', 'b = 2']);
    expect(response.output.map((i) => [i.type, i.type === 'code_interpreter_call' ? i.code : null])).toEqual([
      ['code_interpreter_call', 'a = 1'],
      ['code_interpreter_call', 'b = 2'],
      ['message', null],
    ]);
    const ids = response.output.map((i) => i.id);
    expect(new Set(ids).size).toBe(3);
    expect(seen[1]!.messages.slice(-3).map((m) => [m.role, 'tool_call_id' in m ? m.tool_call_id : null])).toEqual([
      ['assistant', null],
      ['tool', 'call_0'],
      ['tool', 'call_1'],
    ]);
  });

  it('maps text.format, sampling and token limits to the upstream, and echoes fields it does not act on', async () => {
    const seen: ChatRequest[] = [];
    const schema = { type: 'object', properties: { n: { type: 'number' } } };
    const { response } = await run(
      {
        input: 'x',
        text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
        temperature: 0.2,
        top_p: 0.9,
        max_output_tokens: 50,
        truncation: 'auto',
        service_tier: 'flex',
        user: 'u-1',
        metadata: { k: 'v' },
        prompt_cache_key: 'pk',
        instructions: 'be terse',
      },
      [{ content: '{"n": 1}' }],
      null,
      seen,
    );
    expect(seen[0]).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      messages: [{ role: 'system', content: 'be terse' }, { role: 'user', content: 'hi' }],
    });
    expect(seen[0]!.tools).toBeUndefined();
    expect(response).toMatchObject({
      truncation: 'auto',
      service_tier: 'flex',
      user: 'u-1',
      metadata: { k: 'v' },
      prompt_cache_key: 'pk',
      instructions: 'be terse',
      temperature: 0.2,
      text: { format: { type: 'json_schema', name: 'answer' } },
    });
  });

  /** A model that plays raw chunk deltas (one list per turn). */
  function rawModel(turns: ChatChunkChoice['delta'][][], seen: ChatRequest[] = []) {
    return async function* (request: ChatRequest): AsyncIterable<ChatChunk> {
      seen.push(structuredClone(request));
      await Promise.resolve();
      const turn = turns.shift();
      if (!turn) throw new Error('no more turns');
      for (const d of turn) yield chunk(d);
      yield chunk({}, turn.some((d) => d.tool_calls) ? 'tool_calls' : 'stop');
    };
  }

  async function runRaw(body: Record<string, unknown>, turns: ChatChunkChoice['delta'][][], sandbox: SandboxPort | null, seen: ChatRequest[] = [], maxToolCalls = 20) {
    const events: ResponseEvent[] = [];
    const r = new ResponseRun({ id: 'resp_r', request: parseCreateResponse({ model: 'm', ...body }), model: rawModel(turns, seen), sandbox, messages: [{ role: 'user', content: 'hi' }], maxToolCalls, emit: (e) => events.push(e), signal: new AbortController().signal });
    return { ...(await r.run()), events };
  }

  it('keeps calls apart that come without an index, told apart by their ids, and takes a name sent whole in every chunk once', async () => {
    const ran: string[] = [];
    const { response } = await runRaw(
      { input: 'x', tools: [{ type: 'code_interpreter' }] },
      [
        [
          { tool_calls: [{ index: 0, id: 'a', function: { name: 'python', arguments: '{"code":"1+1"}' } }] },
          { tool_calls: [{ index: 0, id: 'b', function: { name: 'python', arguments: '{"code":' } }] },
          { tool_calls: [{ index: 1, function: { name: 'python', arguments: '"2+2"}' } }] },
        ],
        [{ content: 'ok' }],
      ],
      fakeSandbox([], ran),
    );
    expect(ran).toEqual(['1+1', '2+2']);
    expect(response.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'code_interpreter_call', 'message']);
  });

  it('opens a function call only once its name is whole', async () => {
    const { response, events } = await runRaw(
      { input: 'x', tools: [{ type: 'function', name: 'get', parameters: {} }, { type: 'function', name: 'get_weather', parameters: {} }] },
      [[{ tool_calls: [{ index: 0, id: 'c', function: { name: 'get' } }] }, { tool_calls: [{ index: 0, function: { name: '_weather' } }] }, { tool_calls: [{ index: 0, function: { arguments: '{}' } }] }]],
      null,
    );
    expect(response.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_weather', arguments: '{}' })]);
    expect(events.filter((e) => e.type === 'response.output_item.added')).toHaveLength(1);
  });

  it('runs no more parallel calls than max_tool_calls allows, answering the rest as not run', async () => {
    const ran: string[] = [];
    const seen: ChatRequest[] = [];
    const calls = [1, 2, 3].map((n, index) => ({ tool_calls: [{ index, id: `c${n}`, function: { name: 'python', arguments: `{"code":"${n}"}` } }] }));
    const { response } = await runRaw({ input: 'x', tools: [{ type: 'code_interpreter' }] }, [calls, [{ content: 'done' }]], fakeSandbox([], ran), seen, 1);
    expect(ran).toEqual(['1']);
    expect(response.output.map((i) => i.status)).toEqual(['completed', 'incomplete', 'incomplete', 'completed']);
    expect(seen[1]!.messages.filter((m) => m.role === 'tool').map((m) => (m as { content: string }).content)).toEqual([
      expect.stringContaining('[no output]'),
      expect.stringContaining('limit on tool calls'),
      expect.stringContaining('limit on tool calls'),
    ]);
  });

  it('ends incomplete when cut short mid call: the call is not run, its item is done, and the conversation stays valid', async () => {
    const ran: string[] = [];
    const events: ResponseEvent[] = [];
    const cut = async function* (): AsyncIterable<ChatChunk> {
      yield await Promise.resolve(chunk({ tool_calls: [{ index: 0, id: 'k', function: { name: 'python', arguments: '{"code":"pri' } }] }));
      yield chunk({}, 'length');
    };
    const r = new ResponseRun({ id: 'resp_c', request: parseCreateResponse({ model: 'm', input: 'x', tools: [{ type: 'code_interpreter' }] }), model: cut, sandbox: fakeSandbox([], ran), messages: [], maxToolCalls: 5, emit: (e) => events.push(e), signal: new AbortController().signal });
    const { response, transcript } = await r.run();
    expect(ran).toEqual([]);
    expect(response.status).toBe('incomplete');
    expect(response.output[0]).toMatchObject({ type: 'code_interpreter_call', status: 'incomplete' });
    expect(events.map((e) => e.type).slice(-2)).toEqual(['response.output_item.done', 'response.incomplete']);
    expect(transcript.at(-1)).toEqual({ role: 'tool', tool_call_id: 'k', content: expect.stringContaining('Not run') });
  });
});
