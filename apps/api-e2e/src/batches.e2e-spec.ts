import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import OpenAI, { NotFoundError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { ScriptedUpstreamClient, eventually, freePort, startSuiteStack, type ScriptedTurn, type Stack } from '@cibox/testing';
import { client, expectOpenAIError, raw } from './support/clients';
import { python } from './support/python';
import { startReceiver } from './support/webhook-receiver';

const ROOT = path.resolve(__dirname, '..', '..', '..');

const upstream = new ScriptedUpstreamClient();
const pythonCall = (code: string) => ({ name: 'python', arguments: JSON.stringify({ code }) });

interface ResultLine {
  id: string;
  custom_id: string | null;
  response: { status_code: number; request_id: string; body: any } | null;
  error: { code: string; message: string; line?: number } | null;
}

const jsonl = (lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

async function uploadInput(sdk: OpenAI, lines: unknown[]): Promise<string> {
  return (await sdk.files.create({ file: await toFile(Buffer.from(jsonl(lines)), 'input.jsonl'), purpose: 'batch' })).id;
}

/** A model of its own with `turns` scripted, so lines running at once never take each other's turns. */
async function scripted(turns: ScriptedTurn[]): Promise<string> {
  const model = ScriptedUpstreamClient.newModel();
  await upstream.script(model, turns);
  return model;
}

async function waitFor(sdk: OpenAI, id: string, status: Batch['status'], timeoutMs = 90_000): Promise<Batch> {
  return eventually(
    async () => {
      const batch = await sdk.batches.retrieve(id);
      if (batch.status !== status) throw new Error(`batch ${id} is ${batch.status}, waiting for ${status}: ${JSON.stringify(batch.request_counts)}`);
      return batch;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** A file the batch wrote, read through the SDK, one parsed line each. */
async function resultLines(sdk: OpenAI, fileId: string | null | undefined): Promise<ResultLine[]> {
  if (!fileId) throw new Error('the batch has no such file');
  const text = await (await sdk.files.content(fileId)).text();
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultLine);
}

const byCustomId = (lines: ResultLine[]) => new Map(lines.map((l) => [l.custom_id, l]));

describe('the Batch API', () => {
  it('runs a batch of /v1/responses lines to completed, with bad lines in the error file and the rest in the output file', async () => {
    const sdk = client('a');
    const plain = await scripted([{ content: 'Plain answer.', usage: { prompt_tokens: 10, completion_tokens: 3 } }]);
    const tool = await scripted([{ tool_calls: [pythonCall('print(6 * 7)')] }, { content: 'It is 42.' }]);
    const unstored = await scripted([{ content: 'Not kept.' }]);
    const request = (custom_id: string, body: Record<string, unknown>) => ({ custom_id, method: 'POST', url: '/v1/responses', body });
    const lines = [
      request('plain', { model: plain, input: 'Say something plain.' }),
      request('tool', { model: tool, input: 'What is 6 * 7?', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], include: ['code_interpreter_call.outputs'] }),
      '{"custom_id": "broken", "method": "POST"',
      { custom_id: 'wrong-url', method: 'POST', url: '/v1/chat/completions', body: { model: plain, input: 'x' } },
      { custom_id: 'wrong-method', method: 'GET', url: '/v1/responses', body: { model: plain, input: 'x' } },
      request('plain', { model: plain, input: 'A second line with the same custom_id.' }),
      request('bad-body', { model: plain, input: 'x', temperature: 'hot' }),
      '',
      request('unstored', { model: unstored, input: 'Forget me.', store: false }),
    ];
    const input_file_id = await uploadInput(sdk, lines);

    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/responses', completion_window: '24h', metadata: { job: 'responses' } });
    expect(created).toMatchObject({ object: 'batch', endpoint: '/v1/responses', input_file_id, completion_window: '24h', status: 'validating', metadata: { job: 'responses' } });
    expect(created.id).toMatch(/^batch_/);
    expect(created.expires_at).toBe(created.created_at + 24 * 3600);

    const batch = await waitFor(sdk, created.id, 'completed');
    expect(batch.request_counts).toEqual({ total: 8, completed: 3, failed: 5 });
    expect(batch.in_progress_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.finalizing_at).toBeGreaterThanOrEqual(batch.in_progress_at!);
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.finalizing_at!);
    expect(batch.model).toBe(plain);
    expect(batch.usage!.input_tokens).toBeGreaterThanOrEqual(10);
    expect(batch.usage!.output_tokens).toBeGreaterThanOrEqual(3);
    expect(batch.usage!.total_tokens).toBe(batch.usage!.input_tokens + batch.usage!.output_tokens);

    const output = byCustomId(await resultLines(sdk, batch.output_file_id));
    expect([...output.keys()].sort()).toEqual(['plain', 'tool', 'unstored']);
    for (const line of output.values()) {
      expect(line).toMatchObject({ id: expect.stringMatching(/^batch_req_/), response: { status_code: 200, request_id: expect.stringMatching(/^req_/) }, error: null });
      expect(line.response!.body).toMatchObject({ object: 'response', status: 'completed' });
    }
    expect(output.get('plain')!.response!.body.output_text ?? output.get('plain')!.response!.body.output[0].content[0].text).toBe('Plain answer.');
    const toolOutput = output.get('tool')!.response!.body.output;
    expect(toolOutput[0]).toMatchObject({ type: 'code_interpreter_call', code: 'print(6 * 7)', status: 'completed', outputs: [{ type: 'logs', logs: '42\n' }] });
    expect(toolOutput[1].content[0].text).toBe('It is 42.');
    // Each line ran as POST /v1/responses would have: stored unless `store: false`.
    expect((await sdk.responses.retrieve(output.get('tool')!.response!.body.id)).status).toBe('completed');
    await expect(sdk.responses.retrieve(output.get('unstored')!.response!.body.id)).rejects.toBeInstanceOf(NotFoundError);

    const errors = await resultLines(sdk, batch.error_file_id);
    expect(errors.map((e) => [e.custom_id, e.error?.code, e.error?.line])).toEqual([
      [null, 'invalid_json_line', 3],
      ['wrong-url', 'invalid_url', 4],
      ['wrong-method', 'invalid_method', 5],
      ['plain', 'duplicate_custom_id', 6],
      ['bad-body', 'invalid_value', 7],
    ]);
    for (const e of errors) expect(e).toMatchObject({ id: expect.stringMatching(/^batch_req_/), response: null, error: { message: expect.any(String) } });
    expect(errors[4]!.error!.message).toContain('temperature');

    const outputFile = await sdk.files.retrieve(batch.output_file_id!);
    expect(outputFile).toMatchObject({ purpose: 'batch_output', filename: `batch_${batch.id}_output.jsonl` });
    expect((await sdk.files.retrieve(batch.error_file_id!)).filename).toBe(`batch_${batch.id}_error.jsonl`);
  });

  it('runs a batch of /v1/chat/completions lines: proxied ones, one with the code_interpreter tool, and a refused one in the error file', async () => {
    const sdk = client('a');
    const models = await Promise.all([0, 1, 2].map((i) => scripted([{ content: `Answer ${i}.`, usage: { prompt_tokens: 5, completion_tokens: 2 } }])));
    const tool = await scripted([{ tool_calls: [pythonCall('print(sum(range(10)))')] }, { content: 'The sum is 45.' }]);
    const refused = await scripted([{ status: 400, error_message: 'This model does not do that.' }]);
    const request = (custom_id: string, body: Record<string, unknown>) => ({ custom_id, method: 'POST', url: '/v1/chat/completions', body });
    const ask = (model: string) => ({ model, messages: [{ role: 'user', content: 'Hello' }] });
    const input_file_id = await uploadInput(sdk, [
      ...models.map((m, i) => request(`chat-${i}`, ask(m))),
      request('tool', { ...ask(tool), tools: [{ type: 'code_interpreter' }] }),
      request('refused', ask(refused)),
      { custom_id: 'to-responses', method: 'POST', url: '/v1/responses', body: ask(models[0]!) },
      request('no-messages', { model: models[0], messages: [] }),
      request('streamed', { ...ask(models[0]!), stream: true }),
    ]);

    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await waitFor(sdk, created.id, 'completed');
    expect(batch.request_counts).toEqual({ total: 8, completed: 4, failed: 4 });
    expect(batch.usage!.input_tokens).toBeGreaterThanOrEqual(15);

    const output = byCustomId(await resultLines(sdk, batch.output_file_id));
    expect([...output.keys()].sort()).toEqual(['chat-0', 'chat-1', 'chat-2', 'tool']);
    for (const i of [0, 1, 2]) {
      expect(output.get(`chat-${i}`)!.response).toMatchObject({ status_code: 200, body: { object: 'chat.completion', choices: [{ message: { content: `Answer ${i}.` } }] } });
    }
    const toolBody = output.get('tool')!.response!.body;
    expect(toolBody.choices[0].message.content).toBe('The sum is 45.');
    expect(toolBody.code_interpreter.executions).toEqual([expect.objectContaining({ code: 'print(sum(range(10)))', status: 'completed', stdout: '45\n' })]);

    const errors = byCustomId(await resultLines(sdk, batch.error_file_id));
    // The upstream's refusal: the request ran, and its reply is kept as the route would have sent it.
    expect(errors.get('refused')).toMatchObject({ response: { status_code: 400, body: { error: { message: expect.stringContaining('This model does not do that.') } } }, error: null });
    expect(errors.get('to-responses')).toMatchObject({ response: null, error: { code: 'invalid_url', line: 6 } });
    expect(errors.get('no-messages')).toMatchObject({ response: null, error: { code: 'invalid_value', line: 7 } });
    expect(errors.get('streamed')).toMatchObject({ response: null, error: { code: 'invalid_request', line: 8 } });
  });

  it('cancels a running batch: no further line starts, and the lines that ran are in the output file', async () => {
    const sdk = client('a');
    const total = 48;
    const models = await Promise.all(Array.from({ length: total }, () => scripted([{ content: 'Slow answer.', delay_ms: 2000 }])));
    const input_file_id = await uploadInput(
      sdk,
      models.map((model, i) => ({ custom_id: `slow-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'Take your time.' }] } })),
    );
    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const running = await eventually(
      async () => {
        const b = await sdk.batches.retrieve(created.id);
        return b.status === 'in_progress' && b.request_counts!.completed > 0 ? b : null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(running.request_counts!.total).toBe(total);

    const cancelling = await sdk.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toBeGreaterThanOrEqual(running.in_progress_at!);
    const batch = await waitFor(sdk, created.id, 'cancelled');
    expect(batch.cancelled_at).toBeGreaterThanOrEqual(cancelling.cancelling_at!);
    const { completed, failed } = batch.request_counts!;
    expect(failed).toBe(0);
    expect(completed).toBeGreaterThanOrEqual(running.request_counts!.completed);
    expect(completed).toBeLessThan(total);

    const output = await resultLines(sdk, batch.output_file_id);
    expect(output).toHaveLength(completed);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(completed);
    for (const line of output) expect(line.response!.body.choices[0].message.content).toBe('Slow answer.');
    expect(batch.error_file_id ?? null).toBeNull();
    // The lines never started never reached the model.
    const asked = await Promise.all(models.map(async (m) => (await upstream.requests(m)).length));
    expect(asked.reduce((a, b) => a + b, 0)).toBe(completed);

    // Cancelling again is harmless.
    expect((await sdk.batches.cancel(created.id)).status).toBe('cancelled');
  });

  it("lists a key's batches with cursor pagination, and another key's batch is 404 and absent", async () => {
    const a = client('a');
    const b = client('b');
    const model = ScriptedUpstreamClient.newModel();
    const input_file_id = await uploadInput(a, [{ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id);

    const first = await a.batches.list({ limit: 2 });
    expect(first.data.map((x) => x.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await a.batches.list({ limit: 2, after: ids[1] });
    expect(second.data[0]!.id).toBe(ids[0]);
    const all: string[] = [];
    for await (const batch of a.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all).toEqual(expect.arrayContaining(ids));

    await expect(b.batches.retrieve(ids[0]!)).rejects.toBeInstanceOf(NotFoundError);
    await expect(b.batches.cancel(ids[0]!)).rejects.toBeInstanceOf(NotFoundError);
    const theirs: string[] = [];
    for await (const batch of b.batches.list()) theirs.push(batch.id);
    expect(theirs).not.toEqual(expect.arrayContaining([ids[0]]));
    // B cannot start a batch over A's file either.
    await expect(b.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'input_file_id' });
    for (const id of ids) await waitFor(a, id, 'completed');
  });

  it('announces its end to the webhook endpoints of its key, signed so the SDK unwraps it', async () => {
    const receiver = await startReceiver();
    const sdk = client('a');
    const endpoint = await sdk.webhooks.create({ name: 'batches', url: receiver.url, event_types: ['batch.completed', 'batch.cancelled'] });
    try {
      const model = await scripted([{ content: 'announced' }]);
      const input_file_id = await uploadInput(sdk, [{ custom_id: 'w', method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }]);
      const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await waitFor(sdk, created.id, 'completed');
      const delivery = await eventually(() => receiver.received.find((r) => r.body.includes(created.id)), { timeoutMs: 30_000 });
      const event = await sdk.webhooks.unwrap(delivery.body, delivery.headers, endpoint.signing_secret);
      expect(event).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: created.id } });
    } finally {
      await sdk.webhooks.delete(endpoint.id);
      await receiver.stop();
    }
  });

  it('works through the official Python client: create, poll, list, and read the output file', async () => {
    const sdk = client('a');
    const model = await scripted([{ content: 'Hello from a batch.' }]);
    const input_file_id = await uploadInput(sdk, [{ custom_id: 'py', method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }]);
    const out = await python(
      `
import json, time, openai
client = openai.OpenAI(max_retries=0)
batch = client.batches.create(input_file_id="${input_file_id}", endpoint="/v1/chat/completions", completion_window="24h", metadata={"from": "python"})
deadline = time.time() + 60
while batch.status not in ("completed", "failed", "expired", "cancelled") and time.time() < deadline:
    time.sleep(0.2)
    batch = client.batches.retrieve(batch.id)
listed = [b.id for b in client.batches.list(limit=5)]
lines = [json.loads(l) for l in client.files.content(batch.output_file_id).text.splitlines()]
print(json.dumps({"id": batch.id, "status": batch.status, "counts": batch.request_counts.model_dump(), "metadata": batch.metadata, "listed": listed, "lines": lines}))
`,
      process.env.CIBOX_KEY_A!,
      90_000,
    );
    expect(out).toMatchObject({ status: 'completed', counts: { total: 1, completed: 1, failed: 0 }, metadata: { from: 'python' } });
    expect(out.listed).toContain(out.id);
    expect(out.lines).toEqual([expect.objectContaining({ custom_id: 'py', response: expect.objectContaining({ status_code: 200 }), error: null })]);
    expect(out.lines[0].response.body.choices[0].message.content).toBe('Hello from a batch.');
  });

  describe('refuses a batch it cannot run, as a 400 naming the field', () => {
    let input_file_id: string;
    beforeAll(async () => {
      input_file_id = await uploadInput(client('a'), [{ custom_id: 'x', method: 'POST', url: '/v1/responses', body: { model: 'm', input: 'hi' } }]);
    });

    it('an endpoint other than /v1/responses and /v1/chat/completions', async () => {
      const res = await raw('POST', '/v1/batches', { body: { input_file_id, endpoint: '/v1/embeddings', completion_window: '24h' } });
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, 'endpoint');
    });

    it('a completion window other than 24h', async () => {
      const res = await raw('POST', '/v1/batches', { body: { input_file_id, endpoint: '/v1/responses', completion_window: '48h' } });
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, 'completion_window');
    });

    it('an input file that does not exist', async () => {
      const res = await raw('POST', '/v1/batches', { body: { input_file_id: 'file-nope', endpoint: '/v1/responses', completion_window: '24h' } });
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, 'input_file_id');
    });

    it('an input file not uploaded for batches', async () => {
      const file = await client('a').files.create({ file: await toFile(Buffer.from('{}\n'), 'other.jsonl'), purpose: 'assistants' });
      const res = await raw('POST', '/v1/batches', { body: { input_file_id: file.id, endpoint: '/v1/responses', completion_window: '24h' } });
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, 'input_file_id');
      expect(res.json.error.code).toBe('invalid_file_purpose');
    });

    it('an output_expires_after below an hour', async () => {
      const res = await raw('POST', '/v1/batches', { body: { input_file_id, endpoint: '/v1/responses', completion_window: '24h', output_expires_after: { anchor: 'created_at', seconds: 60 } } });
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, 'output_expires_after.seconds');
    });
  });

  it('fails a batch whose input file has no requests', async () => {
    const sdk = client('a');
    const input_file_id = (await sdk.files.create({ file: await toFile(Buffer.from('\n\n'), 'empty.jsonl'), purpose: 'batch' })).id;
    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/responses', completion_window: '24h' });
    const batch = await waitFor(sdk, created.id, 'failed');
    expect(batch.failed_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.errors).toEqual({ object: 'list', data: [expect.objectContaining({ code: 'empty_file', line: null })] });
  });

  it('gives output files the lifetime output_expires_after asks for', async () => {
    const sdk = client('a');
    const model = ScriptedUpstreamClient.newModel();
    const input_file_id = await uploadInput(sdk, [{ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }]);
    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h', output_expires_after: { anchor: 'created_at', seconds: 7200 } });
    const batch = await waitFor(sdk, created.id, 'completed');
    const file = await sdk.files.retrieve(batch.output_file_id!);
    expect(file.expires_at).toBe(file.created_at + 7200);
  });
});

/** An api process of our own on the stack's Redis and S3 (the batch queues are shared by every api process). */
async function startApi(stack: Stack, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'tools/register-paths.cjs'), path.join(ROOT, 'dist/apps/api/src/main.js')], {
    env: { ...process.env, ...stack.env, PORT: String(port), ...env },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/health`)).status === 200, { timeoutMs: 30_000, intervalMs: 100 });
  return { child, url };
}

describe('batches on a stack of their own (BATCH_COMPLETION_WINDOW_S=6)', () => {
  let stack: Stack;
  let key: string;
  let sdk: OpenAI;
  const extraApis: ChildProcess[] = [];

  beforeAll(async () => {
    const started = await startSuiteStack('batch-window', {
      env: { BATCH_COMPLETION_WINDOW_S: '6', MODEL_BASE_URL: `${process.env.CIBOX_UPSTREAM_URL}/v1`, MODEL_API_KEY: process.env.CIBOX_UPSTREAM_KEY! },
    });
    stack = started.stack;
    key = started.key;
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
  }, 120_000);

  afterAll(async () => {
    for (const api of extraApis) if (api.exitCode === null) api.kill('SIGKILL');
    await stack?.stop();
  });

  it('expires: the lines that ran are kept, every other line is in the error file as batch_expired', async () => {
    const quick = await Promise.all(Array.from({ length: 4 }, () => scripted([{ content: 'Quick.' }])));
    const slow = await Promise.all(Array.from({ length: 60 }, () => scripted([{ content: 'Slow.', delay_ms: 4000 }])));
    const lines = [...quick, ...slow].map((model, i) => ({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } }));
    const input_file_id = await uploadInput(sdk, lines);
    const created = await sdk.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(created.expires_at).toBe(created.created_at + 6);

    const batch = await waitFor(sdk, created.id, 'expired', 60_000);
    expect(batch.expired_at).toBeGreaterThanOrEqual(created.expires_at!);
    const { total, completed, failed } = batch.request_counts!;
    expect(total).toBe(64);
    expect(completed).toBeGreaterThanOrEqual(4);
    expect(completed + failed).toBe(total);

    const output = await resultLines(sdk, batch.output_file_id);
    expect(output).toHaveLength(completed);
    expect(output.map((l) => l.custom_id)).toEqual(expect.arrayContaining(['line-0', 'line-1', 'line-2', 'line-3']));
    const errors = await resultLines(sdk, batch.error_file_id);
    expect(errors).toHaveLength(failed);
    for (const e of errors) expect(e).toMatchObject({ response: null, error: { code: 'batch_expired' } });
    // Every line is in exactly one of the files.
    expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(total);
  }, 120_000);

  it('an api process that stops hands its batch over: another one finishes it, every line once', async () => {
    const window = { BATCH_COMPLETION_WINDOW_S: String(24 * 3600) };
    // Only A runs while the batch starts, so its runner and first lines are A's.
    await stack.processes.find((p) => p.name === 'api')!.stop();
    const a = await startApi(stack, window);
    extraApis.push(a.child);
    const total = 40;
    // Two turns each: a line that A was running when it stopped is run again by B.
    const models = await Promise.all(Array.from({ length: total }, () => scripted([{ content: 'Done.', delay_ms: 1500 }, { content: 'Done.', delay_ms: 1500 }])));
    const viaA = new OpenAI({ apiKey: key, baseURL: `${a.url}/v1`, maxRetries: 0 });
    const input_file_id = await uploadInput(
      viaA,
      models.map((model, i) => ({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } })),
    );
    const created = await viaA.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await eventually(async () => (await viaA.batches.retrieve(created.id)).request_counts!.completed > 0, { timeoutMs: 60_000, intervalMs: 100 });

    const b = await startApi(stack, window);
    extraApis.push(b.child);
    a.child.kill('SIGTERM');
    await once(a.child, 'exit');
    const viaB = new OpenAI({ apiKey: key, baseURL: `${b.url}/v1`, maxRetries: 0 });
    const batch = await waitFor(viaB, created.id, 'completed');
    expect(batch.request_counts).toEqual({ total, completed: total, failed: 0 });
    const output = await resultLines(viaB, batch.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(models.map((_, i) => `line-${i}`).sort());
    for (const line of output) expect(line.response).toMatchObject({ status_code: 200, body: { choices: [{ message: { content: 'Done.' } }] } });
    // Lines A was running when it stopped were cut off and run again on B; none more than that.
    const asked = await Promise.all(models.map(async (m) => (await upstream.requests(m)).length));
    expect(Math.max(...asked)).toBe(2);
    process.stdout.write(`handover: ${asked.filter((n) => n === 2).length} of ${total} lines were run again after their api process stopped\n`);
  }, 120_000);
});
