import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { tenantOf } from '@cibox/config';
import { ScriptedUpstreamClient, eventually, pythonCall as python, startSuiteStack, type Stack } from '@cibox/testing';
import { raw } from './support/clients';

type LogLine = Record<string, unknown> & { msg?: string };

/**
 * One grep follows a request: the api's and the worker's JSON log lines (their stdout, which the
 * stack keeps in files) carry the request id, tenant, container, execution and response ids, from the
 * request through the queue to the worker. A stack of its own, logging at info.
 */
describe('structured logs', () => {
  const upstream = new ScriptedUpstreamClient();
  let stack: Stack;
  let key: string;
  let sdk: OpenAI;
  let container: string;

  beforeAll(async () => {
    const started = await startSuiteStack('logs', {
      env: { LOG_LEVEL: 'info', MODEL_BASE_URL: `${process.env.CIBOX_UPSTREAM_URL}/v1`, MODEL_API_KEY: process.env.CIBOX_UPSTREAM_KEY! },
    });
    stack = started.stack;
    key = started.key;
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0, timeout: 120_000 });
    container = (await sdk.containers.create({ name: 'logs' })).id;
  }, 120_000);
  afterAll(() => stack?.stop());

  /** `grep <id>` over both processes' output: the JSON lines that mention it, by process. */
  const grep = (id: string) => {
    const read = (name: string): LogLine[] =>
      readFileSync(stack.processes.find((p) => p.name === name)!.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.includes(id))
        .map((line) => JSON.parse(line) as LogLine);
    return { api: read('api'), worker: read('worker-w1') };
  };
  /** Waits until both processes have written the lines `ready` looks for (their output is written as it comes). */
  const grepUntil = (id: string, ready: (found: ReturnType<typeof grep>) => boolean) =>
    eventually(() => {
      const found = grep(id);
      return ready(found) && found;
    }, { timeoutMs: 30_000 });
  const requestId = () => `req-logs-${randomBytes(6).toString('hex')}`;
  const ended = (lines: LogLine[]) => lines.find((l) => l.msg === 'execution ended');
  const completed = (lines: LogLine[]) => lines.find((l) => l.msg === 'request completed');

  it("follows an execution from the api's request line to the worker's start and end lines", async () => {
    const id = requestId();
    const res = await raw('POST', `/v1/containers/${container}/executions`, { key, baseUrl: stack.baseUrl, headers: { 'x-request-id': id }, body: { code: 'print(1)' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    const executionId = (res.json as { id: string }).id;

    const found = await grepUntil(id, (f) => !!completed(f.api) && !!ended(f.worker));
    const ids = { requestId: id, tenant: tenantOf(key), containerId: container, executionId };
    expect(completed(found.api)).toMatchObject({ ...ids, res: { statusCode: 200 } });
    expect(found.worker.find((l) => l.msg === 'execution started')).toMatchObject({ ...ids, workerId: 'w1' });
    expect(ended(found.worker)).toMatchObject({ ...ids, workerId: 'w1', status: 'completed', durationMs: expect.any(Number) });
    // The execution's own id finds the same lines.
    const byExecution = grep(executionId);
    expect(byExecution.api.length).toBeGreaterThanOrEqual(1);
    expect(byExecution.worker.length).toBeGreaterThanOrEqual(2);
  });

  it("follows a response's tool call: the response id on the request line and on the worker's lines", async () => {
    const id = requestId();
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('print(2 + 2)')] }, { content: 'It is 4.' }]);
    const response = await sdk.responses.create({ model, input: 'add', tools: [{ type: 'code_interpreter', container }] }, { headers: { 'x-request-id': id } });
    expect(response.status).toBe('completed');

    const found = await grepUntil(id, (f) => !!completed(f.api) && !!ended(f.worker));
    expect(completed(found.api)).toMatchObject({ requestId: id, tenant: tenantOf(key), responseId: response.id, containerId: container, executionId: expect.stringMatching(/^exec_/) });
    expect(ended(found.worker)).toMatchObject({ requestId: id, tenant: tenantOf(key), responseId: response.id, containerId: container, status: 'completed' });
    // A grep for the response id finds both ends too.
    const byResponse = grep(response.id);
    expect(byResponse.api.length).toBeGreaterThanOrEqual(1);
    expect(byResponse.worker.length).toBeGreaterThanOrEqual(2);
  });

  it('follows a background response through both queues: its run in the api, its code in the worker', async () => {
    const id = requestId();
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('print("later")')] }, { content: 'Done.' }]);
    const queued = await sdk.responses.create({ model, input: 'later', background: true, tools: [{ type: 'code_interpreter', container }] }, { headers: { 'x-request-id': id } });
    await eventually(async () => (await sdk.responses.retrieve(queued.id)).status === 'completed', { timeoutMs: 60_000 });

    const found = await grepUntil(id, (f) => !!completed(f.api) && !!ended(f.worker));
    expect(completed(found.api)).toMatchObject({ requestId: id, tenant: tenantOf(key), responseId: queued.id });
    // The execution was queued by the responses queue's processor, long after the request ended: the
    // request id came with the response's job.
    expect(ended(found.worker)).toMatchObject({ requestId: id, tenant: tenantOf(key), responseId: queued.id, containerId: container, status: 'completed' });
  });
});
