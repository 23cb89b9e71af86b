import OpenAI, { toFile } from 'openai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScriptedUpstreamClient, eventually, freePort, pythonCall as python, startStack, startSuiteStack, type Stack } from '@cibox/testing';
import { raw } from './support/clients';
import { execute } from './support/executions';
import { sample } from './support/metrics';

describe('GET /metrics', () => {
  const token = `metrics-${randomBytes(12).toString('hex')}`;
  let stack: Stack;
  let sdk: OpenAI;
  let key: string;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    const workerPort = await freePort();
    const started = await startSuiteStack('metrics', {
      env: {
        METRICS_TOKEN: token,
        WORKER_METRICS_PORT: String(workerPort),
        MODEL_BASE_URL: `${process.env.CIBOX_UPSTREAM_URL}/v1`,
        MODEL_API_KEY: process.env.CIBOX_UPSTREAM_KEY!,
      },
    });
    stack = started.stack;
    key = started.key;
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0, timeout: 120_000 });
    workerMetricsUrl = `http://127.0.0.1:${workerPort}/metrics`;
  }, 120_000);
  afterAll(() => stack?.stop());

  const scrapeApi = async () => {
    const res = await raw('GET', '/metrics', { baseUrl: stack.baseUrl, key: token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text;
  };
  const scrapeWorker = async () => {
    const res = await fetch(workerMetricsUrl);
    expect(res.status).toBe(200);
    return res.text();
  };

  it('refuses a scrape without METRICS_TOKEN, or with a tenant key instead', async () => {
    expect((await raw('GET', '/metrics', { baseUrl: stack.baseUrl, key: null })).status).toBe(401);
    expect((await raw('GET', '/metrics', { baseUrl: stack.baseUrl, key })).status).toBe(401);
  });

  it('moves with an execution and a response, and reports queue depth for every queue', async () => {
    const [apiBefore, workerBefore] = [await scrapeApi(), await scrapeWorker()];
    const route = { method: 'POST', route: '/v1/containers/:id/executions', status: '200' };

    const container = await sdk.containers.create({ name: 'metrics' });
    expect((await execute(container.id, 'print(6 * 7)', { key, baseUrl: stack.baseUrl })).stdout).toBe('42\n');
    const model = ScriptedUpstreamClient.newModel();
    await new ScriptedUpstreamClient().script(model, [{ tool_calls: [python('print(1 + 1)')] }, { content: 'It is 2.' }]);
    const response = await sdk.responses.create({ model, input: 'add', tools: [{ type: 'code_interpreter', container: container.id }] });
    expect(response.status).toBe('completed');

    const [apiAfter, workerAfter] = [await scrapeApi(), await scrapeWorker()];
    // The route label is Nest's template, not the URL with the container id in it.
    expect(apiAfter).not.toContain(container.id);
    expect(sample(apiAfter, 'cibox_http_request_duration_seconds_count', route)).toBe(sample(apiBefore, 'cibox_http_request_duration_seconds_count', route) + 1);
    const responsesRoute = { method: 'POST', route: '/v1/responses', status: '200' };
    expect(sample(apiAfter, 'cibox_http_request_duration_seconds_count', responsesRoute)).toBe(sample(apiBefore, 'cibox_http_request_duration_seconds_count', responsesRoute) + 1);
    expect(sample(apiAfter, 'cibox_http_request_duration_seconds_sum', route)).toBeGreaterThan(sample(apiBefore, 'cibox_http_request_duration_seconds_sum', route));

    // One execution through our endpoint, one through the response's tool call.
    const completed = { status: 'completed' };
    expect(sample(workerAfter, 'cibox_execution_duration_seconds_count', completed)).toBe(sample(workerBefore, 'cibox_execution_duration_seconds_count', completed) + 2);
    expect(sample(workerAfter, 'cibox_execution_duration_seconds_bucket', { ...completed, le: '+Inf' })).toBe(sample(workerAfter, 'cibox_execution_duration_seconds_count', completed));
    expect(sample(workerAfter, 'cibox_sandboxes', { state: 'live' })).toBeGreaterThanOrEqual(1);
    expect(workerAfter).toMatch(/^cibox_sandboxes\{worker="w1",state="pooled"\} \d+$/m);
    expect(workerAfter).toMatch(/^cibox_sandbox_recreations_total \d+$/m);
    expect(workerAfter).toMatch(/^cibox_kernel_protocol_violations_total \d+$/m);

    // Both executions waited in a sandbox queue: the shared one, or the worker's own (one label for every worker's).
    const sandboxWaits = (text: string) => sample(text, 'cibox_queue_wait_seconds_count', { queue: 'sandbox' }) + sample(text, 'cibox_queue_wait_seconds_count', { queue: 'sandbox-worker' });
    expect(sandboxWaits(workerAfter)).toBe(sandboxWaits(workerBefore) + 2);
    expect(workerAfter).not.toMatch(/queue="sandbox-w1"/);

    for (const queue of ['responses', 'webhooks', 'batches', 'batch-lines', 'sandbox']) {
      for (const state of ['waiting', 'active', 'delayed']) expect(apiAfter).toMatch(new RegExp(`^cibox_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+$`, 'm'));
    }
    // Default process metrics, on both.
    expect(apiAfter).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(workerAfter).toMatch(/^process_resident_memory_bytes\{worker="w1"\} \d+/m);
  });

  it('reports the waits of the queues the api consumes, and batch lines by outcome', async () => {
    const before = await scrapeApi();
    const upstream = new ScriptedUpstreamClient();
    const [plain, refused, background] = [ScriptedUpstreamClient.newModel(), ScriptedUpstreamClient.newModel(), ScriptedUpstreamClient.newModel()];
    await upstream.script(plain, [{ content: 'Plain.' }]);
    await upstream.script(refused, [{ status: 400, error_message: 'No.' }]);
    await upstream.script(background, [{ content: 'Later.' }]);

    const queued = await sdk.responses.create({ model: background, input: 'later', background: true });
    await eventually(async () => (await sdk.responses.retrieve(queued.id)).status === 'completed', { timeoutMs: 60_000 });

    const line = (custom_id: string, body: unknown) => JSON.stringify({ custom_id, method: 'POST', url: '/v1/responses', body });
    const input = [line('ok', { model: plain, input: 'hi' }), line('refused', { model: refused, input: 'hi' }), line('invalid', { model: plain, input: 'hi', temperature: 'hot' })];
    const file = await sdk.files.create({ file: await toFile(Buffer.from(`${input.join('\n')}\n`), 'input.jsonl'), purpose: 'batch' });
    const batch = await sdk.batches.create({ input_file_id: file.id, endpoint: '/v1/responses', completion_window: '24h' });
    await eventually(async () => (await sdk.batches.retrieve(batch.id)).status === 'completed', { timeoutMs: 90_000 });

    const after = await scrapeApi();
    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('cibox_batch_lines_total', { outcome: 'completed' })).toBe(1);
    expect(moved('cibox_batch_lines_total', { outcome: 'failed' })).toBe(1);
    expect(moved('cibox_batch_lines_total', { outcome: 'invalid' })).toBe(1);
    expect(moved('cibox_queue_wait_seconds_count', { queue: 'responses' })).toBe(1);
    expect(moved('cibox_queue_wait_seconds_count', { queue: 'batches' })).toBe(1);
    // The two valid lines, each a job of the line queue.
    expect(moved('cibox_queue_wait_seconds_count', { queue: 'batch-lines' })).toBe(2);
    expect(sample(after, 'cibox_queue_wait_seconds_bucket', { queue: 'batch-lines', le: '+Inf' })).toBe(sample(after, 'cibox_queue_wait_seconds_count', { queue: 'batch-lines' }));
    expect(moved('cibox_queue_wait_seconds_sum', { queue: 'batch-lines' })).toBeGreaterThanOrEqual(0);
  });

  it('answers 404 on the worker metrics port for any other path', async () => {
    expect((await fetch(workerMetricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  });
});

describe('GET /health/ready', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('is ready on the suite stack, each dependency ok', async () => {
    const res = await raw('GET', '/health/ready', { key: null });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      status: 'ok',
      checks: {
        redis: { status: 'ok', detail: 'reachable' },
        s3: { status: 'ok', detail: expect.any(String) },
        workers: { status: 'ok', detail: expect.stringMatching(/^\d+ live workers?$/) },
      },
    });
  });

  it('names S3 as down, with 503, when the S3 server is gone; /health stays the liveness check', async () => {
    // A second api on the suite's Redis (and so its worker), with an S3 server of its own, stopped once the api is up.
    stack = await startStack({
      apiKeys: [`sk-ready-${randomBytes(6).toString('hex')}`],
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'cibox-ready-')),
      redisUrl: process.env.CIBOX_REDIS_URL,
      workers: 0,
      env: { LOG_LEVEL: 'warn' },
    });
    await stack.processes.find((p) => p.name === 's3')!.stop();
    const res = await raw('GET', '/health/ready', { key: null, baseUrl: stack.baseUrl });
    expect(res.status).toBe(503);
    expect(res.json.status).toBe('down');
    expect(res.json.checks.s3).toEqual({ status: 'down', detail: expect.any(String) });
    expect(res.json.checks.redis).toEqual({ status: 'ok', detail: 'reachable' });
    expect(res.json.checks.workers.status).toBe('ok');
    const live = await raw('GET', '/health', { key: null, baseUrl: stack.baseUrl });
    expect(live.status).toBe(503);
    expect(live.json).toMatchObject({ status: 'unavailable', redis: 'ok' });
  });
});
