import { toFile } from 'openai';
import { ONE_CODE_CALL_EVENT_TYPES, ScriptedUpstreamClient, distinctRuns, pythonCall as python } from '@cibox/testing';
import { eventually } from '@cibox/testing';
import { client, expectOpenAIError, raw } from './support/clients';
import { execute } from './support/executions';

const upstream = new ScriptedUpstreamClient();
const CHART = [
  'import matplotlib',
  "matplotlib.use('Agg')",
  'import matplotlib.pyplot as plt',
  "plt.plot([1, 2, 3], [1, 4, 9])",
  "plt.savefig('/mnt/data/squares.png')",
  "print('saved é')",
].join('\n');

/** The tool messages (results of our python tool) the upstream was sent in its nth request. */
async function toolResults(model: string, nth: number): Promise<string[]> {
  const requests = await upstream.requests(model);
  return (requests[nth]?.messages ?? []).flatMap((m) => (m.role === 'tool' ? [typeof m.content === 'string' ? m.content : JSON.stringify(m.content)] : []));
}

describe('POST /v1/responses with the code_interpreter tool', () => {
  it('streams every event in order through the SDK 7 stream helper, and the chart is cited and downloadable', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python(CHART)] }, { content: 'Here is the chart: [squares](sandbox:/mnt/data/squares.png).' }]);
    const sdk = client('a');
    const stream = sdk.responses.stream({ model, input: 'plot squares', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], include: ['code_interpreter_call.outputs'] });
    const events: { type: string; sequence_number: number }[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();

    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = distinctRuns(events.map((e) => e.type));
    expect(types).toEqual(ONE_CODE_CALL_EVENT_TYPES);
    // The code arrives as the model writes it, in many deltas that add up to it.
    const deltas = events.filter((e) => e.type === 'response.code_interpreter_call_code.delta') as unknown as { delta: string }[];
    expect(deltas.length).toBeGreaterThan(10);
    expect(deltas.map((d) => d.delta).join('')).toBe(CHART);

    expect(final.status).toBe('completed');
    const call = final.output[0];
    if (call?.type !== 'code_interpreter_call') throw new Error(`expected a code_interpreter_call first, got ${call?.type}`);
    expect(call).toMatchObject({ id: expect.stringMatching(/^ci_/), code: CHART, status: 'completed', container_id: expect.stringMatching(/^cntr_/) });
    // The open figure is shown too, as a notebook would: an image output with a signed link.
    expect(call.outputs).toEqual([
      { type: 'logs', logs: 'saved é\n' },
      { type: 'image', url: expect.stringMatching(/\/v1\/containers\/cntr_\w+\/files\/cfile_\w+\/content\?expires=\d+&signature=/) },
    ]);

    const message = final.output[1];
    if (message?.type !== 'message') throw new Error('expected the message second');
    const text = message.content[0]!;
    if (text.type !== 'output_text') throw new Error('expected output_text');
    expect(final.output_text).toBe('Here is the chart: [squares](sandbox:/mnt/data/squares.png).');
    expect(text.annotations).toHaveLength(1);
    const citation = text.annotations[0]!;
    if (citation.type !== 'container_file_citation') throw new Error('expected a container_file_citation');
    expect(citation).toMatchObject({ container_id: call.container_id, filename: 'squares.png' });
    expect(final.output_text.slice(citation.start_index, citation.end_index)).toBe('sandbox:/mnt/data/squares.png');
    // The cited file downloads through the SDK, and is a PNG.
    const content = await sdk.containers.files.content.retrieve(citation.file_id, { container_id: call.container_id });
    const bytes = Buffer.from(await content.arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');

    // The model saw the tool result, with the file listed.
    const [result] = await toolResults(model, 1);
    expect(result).toContain('saved é');
    expect(result).toContain('/mnt/data/squares.png');
    // What a later GET returns is what the stream ended with.
    const again = await sdk.responses.retrieve(final.id, { include: ['code_interpreter_call.outputs'] });
    // (The stream helper adds `parsed: null` to text parts; the rest must be identical.)
    const unparsed = JSON.parse(JSON.stringify(final.output, (k, v: unknown) => (k === 'parsed' ? undefined : v)));
    expect(again.output).toEqual(unparsed);
    expect(again.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('answers JSON with output[0] the code call, outputs null unless included, and figures as signed links', async () => {
    const model = ScriptedUpstreamClient.newModel();
    const code = "import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.show()\n6 * 7";
    await upstream.script(model, [{ tool_calls: [python(code)] }, { content: 'The answer is 42.' }]);
    const sdk = client('a');
    const response = await sdk.responses.create({ model, input: 'compute', tools: [{ type: 'code_interpreter' } as never] });
    expect(response.status).toBe('completed');
    const call = response.output[0];
    if (call?.type !== 'code_interpreter_call') throw new Error('expected a code_interpreter_call');
    expect(call.outputs).toBeNull();
    expect(response.output_text).toBe('The answer is 42.');

    const full = await sdk.responses.retrieve(response.id, { include: ['code_interpreter_call.outputs'] });
    const outputs = (full.output[0] as typeof call).outputs!;
    expect(outputs[0]).toEqual({ type: 'logs', logs: expect.stringContaining('42') });
    const image = outputs.find((o) => o.type === 'image');
    if (image?.type !== 'image') throw new Error('expected an image output');
    // A browser can load it without the key.
    const res = await fetch(image.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  });

  it('places an input file in /mnt/data for code to read, and tells the model where', async () => {
    const sdk = client('a');
    const file = await sdk.files.create({ file: await toFile(Buffer.from('city,temp\nOslo,3\nRome,17\n'), 'temps.csv'), purpose: 'user_data' });
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python("import pandas as pd\nprint(pd.read_csv('/mnt/data/temps.csv').temp.sum())")] }, { content: 'Total 20.' }]);
    const response = await sdk.responses.create({
      model,
      tools: [{ type: 'code_interpreter', container: { type: 'auto' } }],
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'sum the temps' }, { type: 'input_file', file_id: file.id }] }],
    });
    expect(response.status).toBe('completed');
    const first = (await upstream.requests(model))[0]!;
    expect(JSON.stringify(first.messages)).toContain('/mnt/data/temps.csv');
    expect((await toolResults(model, 1))[0]).toContain('20');

    // Files given to an auto container are there too, and the model is told where.
    const other = ScriptedUpstreamClient.newModel();
    await upstream.script(other, [{ tool_calls: [python("print(open('/mnt/data/temps.csv').read().count('\\n'))")] }, { content: 'Three lines.' }]);
    const viaTool = await sdk.responses.create({ model: other, input: 'count lines', tools: [{ type: 'code_interpreter', container: { type: 'auto', file_ids: [file.id] } }] });
    expect(viaTool.output_text).toBe('Three lines.');
    expect((await upstream.requests(other))[0]!.messages).toContainEqual({ role: 'system', content: 'Files available to the python tool: /mnt/data/temps.csv' });
    expect((await toolResults(other, 1))[0]).toContain('3');
  });

  it('keeps variables and the container across responses chained by previous_response_id', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [
      { tool_calls: [python('x = 41')] },
      { content: 'Set.' },
      { tool_calls: [python('print(x + 1)')] },
      { content: 'It is 42.' },
    ]);
    const sdk = client('a');
    const tools = [{ type: 'code_interpreter' as const, container: { type: 'auto' as const } }];
    const first = await sdk.responses.create({ model, input: 'set x', tools });
    const second = await sdk.responses.create({ model, input: 'print x+1', tools, previous_response_id: first.id });
    expect(second.status).toBe('completed');
    const [a, b] = [first.output[0], second.output[0]] as { container_id: string }[];
    expect(b!.container_id).toBe(a!.container_id);
    expect((await toolResults(model, 3))).toEqual([expect.any(String), expect.stringContaining('42')]);
    // The model saw the whole conversation: the first exchange, then the new input.
    const seen = (await upstream.requests(model))[2]!.messages.map((m) => m.role);
    expect(seen).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
  });

  it('feeds a failing cell back to the model, which fixes it', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('1 / 0')] }, { tool_calls: [python('print(1 / 1)')] }, { content: 'Fixed.' }]);
    const response = await client('a').responses.create({ model, input: 'divide', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], include: ['code_interpreter_call.outputs'] });
    expect(response.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'code_interpreter_call', 'message']);
    const failed = response.output[0] as { status: string; outputs: { logs?: string }[] };
    expect(failed.status).toBe('completed');
    expect(failed.outputs[0]!.logs).toContain('ZeroDivisionError');
    expect((await toolResults(model, 1))[0]).toMatch(/\[error\][\s\S]*ZeroDivisionError/);
  });

  it('hands a function call to the caller, and continues from its output', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [{ name: 'get_rate', arguments: '{"currency":"EUR"}' }] }, { tool_calls: [python('print(100 * 1.25)')] }, { content: '125 dollars.' }]);
    const sdk = client('a');
    const tools = [
      { type: 'function' as const, name: 'get_rate', parameters: { type: 'object', properties: { currency: { type: 'string' } } }, strict: false },
      { type: 'code_interpreter' as const, container: { type: 'auto' as const } },
    ];
    const first = await sdk.responses.create({ model, input: 'convert 100 EUR', tools });
    expect(first.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_rate', arguments: '{"currency":"EUR"}', status: 'completed' })]);
    const call = first.output[0] as { call_id: string };
    const second = await sdk.responses.create({ model, tools, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '1.25' }] });
    expect(second.output_text).toBe('125 dollars.');
    const seen = (await upstream.requests(model))[1]!.messages;
    expect(seen.at(-1)).toEqual({ role: 'tool', tool_call_id: call.call_id, content: '1.25' });
    expect((await toolResults(model, 2)).at(-1)).toContain('125.0');
  });

  it('retries an upstream that fails, and answers 502 when it stays down', async () => {
    const sdk = client('a');
    const flaky = ScriptedUpstreamClient.newModel();
    await upstream.script(flaky, [{ status: 500 }, { status: 429, retry_after: 0 }, { content: 'Recovered.' }]);
    const ok = await sdk.responses.create({ model: flaky, input: 'hi' });
    expect(ok.output_text).toBe('Recovered.');

    const down = ScriptedUpstreamClient.newModel();
    await upstream.script(down, Array.from({ length: 10 }, () => ({ status: 503 })));
    const err = await sdk.responses.create({ model: down, input: 'hi' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502 });
    expect(String((err as Error).message)).toMatch(/upstream/i);

    // Streamed, the same failure ends the stream with response.failed, and the stored response says so.
    const down2 = ScriptedUpstreamClient.newModel();
    await upstream.script(down2, Array.from({ length: 10 }, () => ({ status: 503 })));
    const events: { type: string; response?: { id: string; status: string; error: unknown } }[] = [];
    for await (const e of await sdk.responses.create({ model: down2, input: 'hi', stream: true })) events.push(e as never);
    const last = events.at(-1)!;
    expect(last.type).toBe('response.failed');
    expect(last.response!.error).toMatchObject({ code: 'server_error' });
    expect((await sdk.responses.retrieve(last.response!.id)).status).toBe('failed');
  });

  it('stops calling the tool at max_tool_calls and asks for the answer without tools', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('1')] }, { tool_calls: [python('2')] }, { content: 'Enough.' }]);
    const response = await client('a').responses.create({ model, input: 'loop', max_tool_calls: 2, tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] });
    expect(response.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'code_interpreter_call', 'message']);
    const choices = (await upstream.requests(model)).map((r) => r.tool_choice);
    expect(choices).toEqual(['auto', 'auto', 'none']);
  });

  it('replays a stored stream, from the start or after a sequence number', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('print(5)')] }, { content: 'Five.' }]);
    const sdk = client('a');
    const created = await sdk.responses.create({ model, input: 'five', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], stream: true });
    const original: { type: string; sequence_number: number }[] = [];
    for await (const e of created) original.push(e);
    const id = (original[0] as unknown as { response: { id: string } }).response.id;
    const replay = sdk.responses.stream({ response_id: id });
    const replayed: { type: string; sequence_number: number }[] = [];
    for await (const e of replay) replayed.push(e);
    expect(replayed.map((e) => [e.type, e.sequence_number])).toEqual(original.map((e) => [e.type, e.sequence_number]));
    expect((await replay.finalResponse()).output_text).toBe('Five.');
    // Replayed with include, outputs show though the original request did not ask for them.
    const withOutputs = await raw('GET', `/v1/responses/${id}?stream=true&include[]=code_interpreter_call.outputs`);
    expect(withOutputs.text).toContain('"outputs":[{"type":"logs","logs":"5\\n"}]');
    expect(replayed.length).toBeGreaterThan(0);
    const after = await raw('GET', `/v1/responses/${id}?stream=true&starting_after=5`);
    const numbers = [...after.text.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]));
    expect(numbers[0]).toBe(6);
    expect(numbers.length).toBe(original.length - 6);
  });

  it('stops the work when a streaming client disconnects', async () => {
    const model = ScriptedUpstreamClient.newModel();
    const long = 'word '.repeat(400);
    await upstream.script(model, [{ content: long, chunk_delay_ms: 20 }, { content: 'never asked' }]);
    const sdk = client('a');
    const stream = await sdk.responses.create({ model, input: 'talk', stream: true });
    let id = '';
    for await (const event of stream) {
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.output_text.delta') break; // leaves the loop: the SDK aborts the request
    }
    const stored = await eventually(async () => {
      const r = await sdk.responses.retrieve(id);
      return r.status !== 'in_progress' && r;
    });
    expect(stored.status).toBe('cancelled');
    expect((stored.output[0] as { status: string }).status).toBe('incomplete');
    expect(await upstream.requests(model)).toHaveLength(1);
  });

  it('interrupts the running code when a streaming client disconnects', async () => {
    const model = ScriptedUpstreamClient.newModel();
    const sdk = client('a');
    const container = await sdk.containers.create({ name: 'disconnect' });
    await upstream.script(model, [{ tool_calls: [python('import time\ntime.sleep(30)\nopen("/mnt/data/slept.txt", "w").close()')] }, { content: 'never asked' }]);
    const stream = await sdk.responses.create({ model, input: 'sleep', stream: true, tools: [{ type: 'code_interpreter', container: container.id }] });
    let id = '';
    for await (const event of stream) {
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.code_interpreter_call.interpreting') break;
    }
    const stored = await eventually(async () => {
      const r = await sdk.responses.retrieve(id);
      return r.status !== 'in_progress' && r;
    });
    expect(stored.status).toBe('cancelled');
    // The sleep was interrupted: the container is free at once and the file was never written.
    const next = await execute(container.id, 'import os\nprint(os.path.exists("/mnt/data/slept.txt"))');
    expect(next.stdout).toBe('False\n');
    expect(await upstream.requests(model)).toHaveLength(1);
  });

  it('lists input items with pagination, deletes, and does not keep store:false responses', async () => {
    const sdk = client('a');
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ content: 'ok' }, { content: 'not stored' }]);
    const response = await sdk.responses.create({
      model,
      input: [
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'input_text', text: 'two' }] },
      ],
    });
    const items = [];
    for await (const item of sdk.responses.inputItems.list(response.id, { limit: 2, order: 'asc' })) items.push(item);
    expect(items.map((i) => (i as { content: { text: string }[] }).content[0]!.text)).toEqual(['be brief', 'one', 'two']);
    await sdk.responses.delete(response.id);
    expect(await sdk.responses.retrieve(response.id).catch((e: { status: number }) => e.status)).toBe(404);

    const unstored = await sdk.responses.create({ model, input: 'x', store: false });
    expect(unstored.output_text).toBe('not stored');
    expect(await sdk.responses.retrieve(unstored.id).catch((e: { status: number }) => e.status)).toBe(404);
  });

  it("keeps each key's responses and containers to itself", async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('secret = 1')] }, { content: 'done' }]);
    const a = client('a');
    const b = client('b');
    const response = await a.responses.create({ model, input: 'x', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] });
    const containerId = (response.output[0] as { container_id: string }).container_id;
    expect(await b.responses.retrieve(response.id).catch((e: { status: number }) => e.status)).toBe(404);
    expect(await b.responses.delete(response.id).catch((e: { status: number }) => e.status)).toBe(404);
    expect(await b.responses.cancel(response.id).catch((e: { status: number }) => e.status)).toBe(404);
    expect((await raw('GET', `/v1/responses/${response.id}?stream=true`, { key: process.env.CIBOX_KEY_B! })).status).toBe(404);
    const other = ScriptedUpstreamClient.newModel();
    await upstream.script(other, [{ content: 'never' }]);
    expect(await b.responses.create({ model: other, input: 'x', previous_response_id: response.id }).catch((e: { status: number }) => e.status)).toBe(400);
    expect(await b.responses.create({ model: other, input: 'x', tools: [{ type: 'code_interpreter', container: containerId }] }).catch((e: { status: number }) => e.status)).toBe(404);
    expect(await upstream.requests(other)).toEqual([]);
  });

  it('refuses bad requests with OpenAI-shaped 400s before anything runs', async () => {
    const cases: [unknown, string | null][] = [
      [{ input: 'x' }, 'model'],
      [{ model: 'm', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ model: 'm', input: 'x', bogus: 1 }, 'bogus'],
      [{ model: 'm', input: 'x', temperature: 9 }, 'temperature'],
      [{ model: 'm', input: 'x', previous_response_id: 'resp_nope' }, 'previous_response_id'],
      [{ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-nope' }] }], tools: [{ type: 'code_interpreter' }] }, 'input[0].content[0].file_id'],
    ];
    for (const [body, param] of cases) {
      const res = await raw('POST', '/v1/responses', { body });
      expect([res.status, body]).toEqual([400, body]);
      expectOpenAIError(res.json, param);
    }
    const expired = await raw('POST', '/v1/responses', { body: { model: 'm', input: 'x', tools: [{ type: 'code_interpreter', container: 'cntr_missing' }] } });
    expect(expired.status).toBe(404);
    expectOpenAIError(expired.json);
  });
});
