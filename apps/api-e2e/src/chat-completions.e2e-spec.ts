import { ScriptedUpstreamClient, pythonCall as python } from '@cibox/testing';
import { client, raw } from './support/clients';

const upstream = new ScriptedUpstreamClient();

interface Execution {
  code: string;
  status: string;
  stdout: string;
  stderr: string;
  results: { type: string; url?: string; text?: string }[];
  error: { name: string } | null;
}

describe('POST /v1/chat/completions with the code_interpreter tool (seed 001)', () => {
  it('runs the code in a fresh sandbox and answers with the final message and the executions', async () => {
    const model = ScriptedUpstreamClient.newModel();
    const code = 'a, b = 0, 1\nfibs = []\nfor _ in range(20):\n    fibs.append(a)\n    a, b = b, a + b\nprint(fibs)';
    await upstream.script(model, [{ tool_calls: [python(code)] }, { content: 'The first 20 Fibonacci numbers end with 4181.' }]);
    // Seed 001's call, as written (its tool type is ours, so the SDK's types do not know it).
    const completion = await client('a').chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Calculate the first 20 Fibonacci numbers' }],
      tools: [{ type: 'code_interpreter' } as never],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.content).toBe('The first 20 Fibonacci numbers end with 4181.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    const executions = (completion as unknown as { code_interpreter: { executions: Execution[] } }).code_interpreter.executions;
    expect(executions).toEqual([expect.objectContaining({ code, status: 'completed', stdout: expect.stringContaining('4181'), error: null })]);
    expect(completion.usage!.total_tokens).toBeGreaterThan(0);
    // The model saw the python tool, not ours by its OpenAI name.
    const first = (await upstream.requests(model))[0]!;
    expect(first.tools?.map((t) => t.function.name)).toEqual(['python']);
  });

  it('streams chunks, reports each execution with figures as links, and bounds a cell by timeout_ms', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [
      { tool_calls: [python("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")] },
      { tool_calls: [python('import time\ntime.sleep(30)')] },
      { content: 'A sine wave, and a cell that took too long.' },
    ]);
    const stream = await client('a').chat.completions.create({
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Generate a sine wave plot' }],
      tools: [{ type: 'code_interpreter', timeout_ms: 1500, sandbox_timeout_ms: 60_000 } as never],
    });
    let text = '';
    const executions: Execution[] = [];
    let finish: string | null = null;
    let usage = false;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      const ext = (chunk as unknown as { code_interpreter?: { execution: Execution } }).code_interpreter;
      if (ext) executions.push(ext.execution);
      if (chunk.usage) usage = true;
    }
    expect(text).toBe('A sine wave, and a cell that took too long.');
    expect(finish).toBe('stop');
    expect(usage).toBe(true);
    expect(executions.map((e) => e.status)).toEqual(['completed', 'timed_out']);
    const image = executions[0]!.results.find((r) => r.type === 'image');
    const res = await fetch(image!.url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
  });

  it('passes function tools through: the call comes back to the client as usual', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [{ name: 'lookup', arguments: '{"q":"x"}' }] }]);
    const completion = await client('a').chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'look it up' }],
      tools: [{ type: 'code_interpreter' } as never, { type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    });
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]!.message.tool_calls).toEqual([expect.objectContaining({ type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } })]);
  });

  it("accepts another provider's built-in tools (web_search) and does not offer them to the model; an unknown type is a 400", async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('print(6 * 7)')] }, { content: '42' }]);
    const completion = await client('a').chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Find it and compute it' }],
      tools: [{ type: 'web_search' } as never, { type: 'code_interpreter' } as never],
    });
    expect(completion.choices[0]!.message.content).toBe('42');
    const requests = await upstream.requests(model);
    expect(requests.map((r) => r.tools?.map((t) => t.function.name))).toEqual([['python'], ['python']]);
    const res = await raw('POST', '/v1/chat/completions', { body: { model, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'code_interpreter' }, { type: 'browser' }] } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'tools[1].type', code: 'unsupported_tool' });
  });

  it('proxies a request without the tool to the upstream unchanged, streamed or not', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ content: 'plain answer' }, { content: 'streamed answer' }]);
    const sdk = client('a');
    const plain = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], seed: 7 });
    expect(plain.choices[0]!.message.content).toBe('plain answer');
    expect((await upstream.requests(model))[0]).toMatchObject({ seed: 7, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('streamed answer');
  });

  it('refuses a malformed request with a 400', async () => {
    const res = await raw('POST', '/v1/chat/completions', { body: { model: 'm', messages: [], tools: [{ type: 'code_interpreter' }] } });
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('messages');
  });
});
