import OpenAI from 'openai';
import { ScriptedUpstreamClient, eventually, pythonCall as python, startSuiteStack, type Stack } from '@cibox/testing';
import { raw } from './support/clients';
import { execute } from './support/executions';
import { startReceiver } from './support/webhook-receiver';

const upstream = new ScriptedUpstreamClient();
const tools = [{ type: 'code_interpreter' as const, container: { type: 'auto' as const } }];

/** Polls until the response's code is running. */
async function interpreting(sdk: OpenAI, id: string): Promise<void> {
  await eventually(async () => (await sdk.responses.retrieve(id)).output.some((i) => (i as { status?: string }).status === 'interpreting'), {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
}

/** Polls until the response has left `queued` and `in_progress`. */
async function ended(sdk: OpenAI, id: string) {
  return eventually(async () => {
    const r = await sdk.responses.retrieve(id);
    return r.status !== 'queued' && r.status !== 'in_progress' && r;
  }, { timeoutMs: 60_000 });
}

/** The worker process that holds a container's sandbox. */
async function ownerOf(stack: Stack, containerId: string) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(stack.redisUrl);
  try {
    // `interpreting` is saved as the execution is queued: a worker claims the container right after,
    // and binds the container to its sandbox just before the cell runs.
    const owner = await eventually(() => redis.get(`cibox:container-owner:${containerId}`), { timeoutMs: 30_000, intervalMs: 20 });
    await eventually(() => redis.get(`cibox:container-sandbox:${containerId}`), { timeoutMs: 30_000, intervalMs: 20 });
    const process = stack.processes.find((p) => p.name === `worker-${owner}`);
    if (!process) throw new Error(`no worker process for owner ${owner} among ${stack.processes.map((p) => p.name).join(', ')}`);
    return process;
  } finally {
    await redis.quit();
  }
}

/**
 * One stack of its own with two workers (as in production), supervised, so the last tests can kill
 * its api and a worker.
 */
describe('background responses', () => {
  let stack: Stack;
  let sdk: OpenAI;
  let key: string;

  beforeAll(async () => {
    const started = await startSuiteStack('background', {
      env: {
        // Short enough that a dead api's job is taken over within seconds, long enough that a busy
        // machine's slow lock renewal is not mistaken for a death.
        QUEUE_LOCK_MS: '5000',
        REAPER_INTERVAL_MS: '500',
        MODEL_BASE_URL: `${process.env.CIBOX_UPSTREAM_URL}/v1`,
        MODEL_API_KEY: process.env.CIBOX_UPSTREAM_KEY!,
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      },
      supervise: { log: () => undefined, backoff: { initialMs: 200 } },
    });
    stack = started.stack;
    // Two workers, as in production: the one that dies is not the only one.
    await stack.startWorker('w2', { REAPER_INTERVAL_MS: '500', QUEUE_LOCK_MS: '5000' });
    key = started.key;
    sdk = new OpenAI({ apiKey: started.key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('returns queued at once, then runs: polling shows it in progress, then completed', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('import time\ntime.sleep(1)\nprint(6 * 7)')] }, { content: 'It is 42.' }]);
    const queued = await sdk.responses.create({ model, input: 'compute', tools, background: true });
    expect(queued).toMatchObject({ status: 'queued', background: true, output: [] });
    const seen = new Set<string>();
    const done = await eventually(async () => {
      const r = await sdk.responses.retrieve(queued.id);
      seen.add(r.status!);
      return r.status === 'completed' && r;
    }, { timeoutMs: 60_000, intervalMs: 50 });
    expect(seen.has('in_progress')).toBe(true);
    expect(done.output_text).toBe('It is 42.');
    expect(done).toMatchObject({ background: true, attempts: 1 });
    expect(done.output[0]).toMatchObject({ type: 'code_interpreter_call', status: 'completed' });
    expect((await upstream.requests(model)).at(-1)!.messages.at(-1)).toMatchObject({ role: 'tool', content: expect.stringContaining('42') });
  });

  it('streams with background and stream together, and resumes with starting_after, live while it runs', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('import time\ntime.sleep(1.5)\nprint("slow")')] }, { content: 'Done slowly.' }]);
    const stream = await sdk.responses.create({ model, input: 'slow', tools, background: true, stream: true });
    const first: { type: string; sequence_number: number; response?: { id: string } }[] = [];
    for await (const event of stream) {
      first.push(event);
      if (event.type === 'response.code_interpreter_call.interpreting') break; // leave mid-run
    }
    const id = first[0]!.response!.id;
    const lastSeen = first.at(-1)!.sequence_number;
    // Resume where we left off, through the SDK's helper, while the code still runs.
    const resumed = sdk.responses.stream({ response_id: id, starting_after: lastSeen });
    const rest: { type: string; sequence_number: number }[] = [];
    for await (const event of resumed) rest.push(event);
    expect(rest[0]!.sequence_number).toBe(lastSeen + 1);
    expect(rest.at(-1)!.type).toBe('response.completed');
    expect((await resumed.finalResponse()).output_text).toBe('Done slowly.');
    // Leaving the stream did not cancel a background response.
    expect((await sdk.responses.retrieve(id)).status).toBe('completed');
  });

  it('cancel stops a running response and interrupts its code; twice is harmless; a finished one is returned unchanged', async () => {
    const model = ScriptedUpstreamClient.newModel();
    const container = await sdk.containers.create({ name: 'bg-cancel' });
    await upstream.script(model, [{ tool_calls: [python('import time\ntime.sleep(30)\nopen("/mnt/data/woke.txt", "w").close()')] }, { content: 'never asked' }]);
    const queued = await sdk.responses.create({ model, input: 'sleep', background: true, tools: [{ type: 'code_interpreter', container: container.id }] });
    await interpreting(sdk, queued.id);
    const cancelled = await sdk.responses.cancel(queued.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await sdk.responses.cancel(queued.id)).status).toBe('cancelled');
    // The container is free at once: the sleep was interrupted, the file never written.
    expect((await execute(container.id, 'import os\nprint(os.path.exists("/mnt/data/woke.txt"))', { key, baseUrl: stack.baseUrl })).stdout).toBe('False\n');
    expect(await upstream.requests(model)).toHaveLength(1);

    const quick = ScriptedUpstreamClient.newModel();
    await upstream.script(quick, [{ content: 'fast' }]);
    const done = await ended(sdk, (await sdk.responses.create({ model: quick, input: 'x', background: true })).id);
    expect(done.status).toBe('completed');
    expect((await sdk.responses.cancel(done.id)).status).toBe('completed');
    // Only background responses can be cancelled (another key's: see responses.e2e-spec).
    await upstream.script(quick, [{ content: 'fg' }]);
    const fg = await sdk.responses.create({ model: quick, input: 'x' });
    expect((await raw('POST', `/v1/responses/${fg.id}/cancel`, { key, baseUrl: stack.baseUrl })).status).toBe(400);
  });

  it('announces its end to the webhook endpoints of its key, signed so the SDK unwraps it', async () => {
    const receiver = await startReceiver();
    const endpoint = await sdk.webhooks.create({ name: 'bg', url: receiver.url, event_types: ['response.completed', 'response.cancelled'] });
    try {
      const model = ScriptedUpstreamClient.newModel();
      await upstream.script(model, [{ content: 'announced' }]);
      const queued = await sdk.responses.create({ model, input: 'x', background: true });
      await ended(sdk, queued.id);
      const delivery = await eventually(() => receiver.received.find((r) => r.body.includes(queued.id)), { timeoutMs: 30_000 });
      const event = await sdk.webhooks.unwrap(delivery.body, delivery.headers, endpoint.signing_secret);
      expect(event).toMatchObject({ object: 'event', type: 'response.completed', data: { id: queued.id } });
    } finally {
      await sdk.webhooks.delete(endpoint.id);
      await receiver.stop();
    }
  });

  it('refuses background without store', async () => {
    const res = await raw('POST', '/v1/responses', { body: { model: 'm', input: 'x', background: true, store: false }, key, baseUrl: stack.baseUrl });
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('store');
  });
  it('an api killed mid-run: another start takes the response over, starts it over, and says so', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('import time\ntime.sleep(4)')] }, { tool_calls: [python('print("again")')] }, { content: 'Finished.' }]);
    const queued = await sdk.responses.create({ model, input: 'work', tools, background: true });
    await interpreting(sdk, queued.id);
    const api = stack.processes.find((p) => p.name === 'api')!;
    api.child.kill('SIGKILL');
    await eventually(() => api.restarts === 1, { timeoutMs: 10_000 });
    const done = await ended(sdk, queued.id);
    // Started over at least once (more if the machine is so busy that a lock lapsed again).
    expect(done).toMatchObject({ status: 'completed', output_text: 'Finished.' });
    expect((done as unknown as { attempts: number }).attempts).toBeGreaterThanOrEqual(2);
    expect(done.output.map((i) => i.type)).toEqual(['code_interpreter_call', 'message']);
  });

  it('a worker killed mid-execution: the code call fails with its sandbox lost, and the model answers from that', async () => {
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ tool_calls: [python('x = 1\nimport time\ntime.sleep(20)')] }, { content: 'The sandbox was lost.' }]);
    const queued = await sdk.responses.create({ model, input: 'work', tools, background: true, include: ['code_interpreter_call.outputs'] });
    await interpreting(sdk, queued.id);
    // Kill the worker that runs it: the owner of the response's container.
    const containerId = ((await sdk.responses.retrieve(queued.id)).output[0] as { container_id: string }).container_id;
    const owner = await ownerOf(stack, containerId);
    owner.child.kill('SIGKILL');
    const done = await ended(sdk, queued.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 1, output_text: 'The sandbox was lost.' });
    expect(done.output[0]).toMatchObject({ type: 'code_interpreter_call', status: 'failed' });
    const toolResult = (await upstream.requests(model))[1]!.messages.at(-1)!;
    expect(toolResult).toMatchObject({ role: 'tool', content: expect.stringContaining('SandboxError') });
  });
});
