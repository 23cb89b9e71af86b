import { createModelClient, type ChatChunk, type ChatRequest } from '@cibox/model';
import { ScriptedUpstreamClient } from './scripted-upstream-client';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream';

const KEY = 'sk-fake-upstream';
let upstream: ScriptedUpstream;
let scripts: ScriptedUpstreamClient;
beforeAll(async () => {
  upstream = await startScriptedUpstream({ apiKey: KEY });
  scripts = new ScriptedUpstreamClient(upstream.url);
});
afterAll(() => upstream.close());

const client = (over: { timeoutMs?: number; maxRetries?: number } = {}) =>
  createModelClient({ baseUrl: upstream.baseUrl, apiKey: KEY, modelsFile: null, timeoutMs: 5000, maxRetries: 2, ...over }, { backoff: { initialDelayMs: 5, maxDelayMs: 10 } });
const collect = async (it: AsyncIterable<ChatChunk>) => {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
};
const ask = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** The raw SSE data lines of one streamed request. */
async function rawStream(body: ChatRequest): Promise<string[]> {
  const res = await fetch(`${upstream.baseUrl}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  return text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
}

describe('the scripted upstream', () => {
  const args = JSON.stringify({ code: 'print("caf\u00e9")\nprint(1)' }).replace('é', '\\u00e9');

  it('streams a tool call as real servers do: role first, name once, arguments in many small pieces, finish, usage, [DONE]', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'Let me compute that.', tool_calls: [{ name: 'python', arguments: args }] }]);
    const data = await rawStream(ask(model, { stream: true, stream_options: { include_usage: true } }));
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const content = chunks.flatMap((c) => c.choices.map((ch: any) => ch.delta.content ?? '')).join('');
    expect(content).toBe('Let me compute that.');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThanOrEqual(4);
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'python', arguments: '' } });
    expect(calls.slice(1).every((c: any) => Object.keys(c).join() === 'index,function' && Object.keys(c.function).join() === 'arguments')).toBe(true);
    const pieces = calls.map((c: any) => c.function.arguments as string);
    expect(pieces.join('')).toBe(args);
    expect(pieces.length).toBeGreaterThan(15);
    expect(pieces.every((p) => p.length <= 5)).toBe(true);
    // Escapes arrive in halves: a piece ends in the backslash of `\n` and of `\u00e9`.
    expect(pieces.some((p, i) => p.endsWith('\\') && pieces[i + 1]!.startsWith('n'))).toBe(true);
    expect(pieces.some((p, i) => p.endsWith('\\') && pieces[i + 1]!.startsWith('u'))).toBe(true);
    const last = chunks.at(-1);
    expect(last).toMatchObject({ choices: [], usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) } });
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    expect(chunks.slice(0, -2).every((c) => c.choices[0].finish_reason === null && c.usage === null)).toBe(true);
  });

  it('sends no usage chunk unless include_usage is asked', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'ok' }]);
    const chunks = (await rawStream(ask(model, { stream: true }))).slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
  });

  it('is read back whole by our model client, and records what each model was asked', async () => {
    const [a, b] = [ScriptedUpstreamClient.newModel(), ScriptedUpstreamClient.newModel()];
    await scripts.script(a, [{ tool_calls: [{ name: 'python', arguments: args }] }, { content: 'done' }]);
    await scripts.script(b, [{ content: 'other' }]);
    const first = await collect(client().stream(ask(a, { tools: [{ type: 'function', function: { name: 'python' } }] })));
    const joined = first.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? '').join('');
    expect(JSON.parse(joined)).toEqual({ code: 'print("café")\nprint(1)' });
    const second = await collect(client().stream(ask(b)));
    expect(second.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('other');
    const seen = await scripts.requests(a);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ stream: true, stream_options: { include_usage: true }, tools: [{ function: { name: 'python' } }] });
  });

  it('answers a non-streamed request with one chat.completion', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ tool_calls: [{ name: 'f', arguments: '{}' }] }]);
    const res = await client().proxy(ask(model));
    expect(await res.json()).toMatchObject({
      object: 'chat.completion',
      model,
      choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
      usage: { total_tokens: expect.any(Number) },
    });
  });

  it('answers a scripted 429 with retry-after, which our client retries', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ status: 429, retry_after: 0 }, { content: 'after the wait' }]);
    const chunks = await collect(client().stream(ask(model)));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('after the wait');
    expect(await scripts.requests(model)).toHaveLength(2);
  });

  it('cuts the connection mid-stream when told to', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'a long answer that is cut', drop_after_chunks: 3 }]);
    await expect(collect(client().stream(ask(model)))).rejects.toThrow(/failed mid-stream/);
  });

  it('sends an error event mid-stream when told to', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'abc', error_after_chunks: 1, error_message: 'the GPU caught fire' }]);
    await expect(collect(client().stream(ask(model)))).rejects.toThrow(/the GPU caught fire/);
  });

  it('waits delay_ms before answering', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'late', delay_ms: 3000 }]);
    await expect(collect(client({ timeoutMs: 1000, maxRetries: 0 }).stream(ask(model)))).rejects.toThrow(/no answer within 1000 ms/);
  });

  it('says when a scripted model has no turn left', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'one' }]);
    await collect(client().stream(ask(model)));
    await expect(collect(client().stream(ask(model)))).rejects.toThrow(`no turn left for model '${model}' (request 2)`);
  });

  it('refuses a wrong API key', async () => {
    const bad = createModelClient({ baseUrl: upstream.baseUrl, apiKey: 'sk-wrong', modelsFile: null, timeoutMs: 1000, maxRetries: 0 });
    await expect(collect(bad.stream(ask('anything')))).rejects.toThrow(/rejected our credentials \(HTTP 401/);
  });

  it('refuses a script with a misspelt field, naming it', async () => {
    await expect(scripts.script('x', [{ contnet: 'typo' } as never])).rejects.toThrow(/HTTP 400.*Unrecognized key.*contnet/);
  });

  it('lists the persona and the scripted models', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await scripts.script(model, [{ content: 'x' }]);
    const ids = (await client().listModels()).map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['openai/gpt-4o', model]));
  });
});
