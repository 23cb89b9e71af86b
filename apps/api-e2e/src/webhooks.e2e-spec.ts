import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { tenantOf } from '@cibox/config';
import { WEBHOOK_QUEUE, type WebhookDeliveryJob } from '@cibox/queue';
import { eventually, startSuiteStack, type Stack } from '@cibox/testing';
import { WEBHOOK_EVENT_TYPES, newWebhookSecret, webhookEvent } from '@cibox/webhooks';
import { client, expectOpenAIError, raw } from './support/clients';
import { startReceiver, type Receiver, type ReceivedWebhook, type Reply } from './support/webhook-receiver';

const unwrap = (sdk: OpenAI, got: ReceivedWebhook, secret: string) => sdk.webhooks.unwrap(got.body, got.headers, secret);

/** Verifies a received webhook with the official Python SDK's `client.webhooks.unwrap`. */
async function unwrapInPython(got: ReceivedWebhook, secret: string): Promise<{ id: string; type: string; data_id: string }> {
  const script = `
import json, sys, openai
d = json.loads(sys.argv[1])
event = openai.OpenAI(api_key="unused").webhooks.unwrap(d["body"], d["headers"], secret=d["secret"])
print(json.dumps({"id": event.id, "type": event.type, "data_id": event.data.id}))
`;
  const { stdout } = await promisify(execFile)(process.env.CIBOX_PYTHON!, ['-c', script, JSON.stringify({ body: got.body, headers: got.headers, secret })], {
    env: { PATH: process.env.PATH },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

describe('webhook endpoints, through the SDK 7', () => {
  const receivers: Receiver[] = [];
  const created: { sdk: OpenAI; id: string }[] = [];
  const receiver = async (replies?: Reply[]) => {
    const r = await startReceiver(replies);
    receivers.push(r);
    return r;
  };
  const createEndpoint = async (url: string, sdk = client(), eventTypes: OpenAI.Webhooks.WebhookCreateParams['event_types'] = ['response.completed']) => {
    const endpoint = await sdk.webhooks.create({ name: 'e2e', url, event_types: eventTypes });
    created.push({ sdk, id: endpoint.id });
    return endpoint;
  };
  afterEach(async () => {
    for (const { sdk, id } of created.splice(0)) await sdk.webhooks.delete(id).catch(() => undefined);
    for (const r of receivers.splice(0)) await r.stop();
  });

  it('creates an endpoint, returning its signing secret once, then retrieves, updates and deletes it', async () => {
    const sdk = client();
    const endpoint = await createEndpoint('https://93.184.216.34/hooks', sdk, ['response.completed', 'batch.failed']);
    expect(endpoint).toEqual({
      id: expect.stringMatching(/^whe_/),
      object: 'webhook_endpoint',
      name: 'e2e',
      url: 'https://93.184.216.34/hooks',
      event_types: ['response.completed', 'batch.failed'],
      created_at: expect.any(Number),
      updated_at: endpoint.created_at,
      signing_secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      signing_secret_hint: `whsec_…${endpoint.signing_secret.slice(-4)}`,
    });
    const retrieved = await sdk.webhooks.retrieve(endpoint.id);
    expect(retrieved).not.toHaveProperty('signing_secret');
    expect(retrieved).toMatchObject({ id: endpoint.id, signing_secret_hint: endpoint.signing_secret_hint });

    const renamed = await sdk.webhooks.update(endpoint.id, { name: 'renamed', event_types: ['batch.completed'] });
    expect(renamed).toMatchObject({ id: endpoint.id, name: 'renamed', url: endpoint.url, event_types: ['batch.completed'] });
    expect(renamed).not.toHaveProperty('signing_secret');
    expect(await sdk.webhooks.retrieve(endpoint.id)).toMatchObject({ name: 'renamed', event_types: ['batch.completed'] });

    expect(await sdk.webhooks.delete(endpoint.id)).toEqual({ id: endpoint.id, object: 'webhook_endpoint.deleted', deleted: true });
    const gone = await raw('GET', `/v1/webhook_endpoints/${endpoint.id}`);
    expect(gone.status).toBe(404);
    expectOpenAIError(gone.json);
  });

  it('lists endpoints newest first, page by page', async () => {
    const sdk = client('b');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createEndpoint(`https://93.184.216.34/list-${i}`, sdk)).id);
    const first = await sdk.webhooks.list({ limit: 2 });
    expect(first.data.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const all = [];
    for await (const e of sdk.webhooks.list({ limit: 2 })) all.push(e.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
  });

  it('lists the event types it sends', async () => {
    expect(await client().webhooks.eventTypes.list()).toEqual({ object: 'list', data: [...WEBHOOK_EVENT_TYPES] });
  });

  it.each([
    ['a missing url', { name: 'x', event_types: ['response.completed'] }, 'url', /is required/],
    ['an ftp url', { name: 'x', url: 'ftp://example.com/x', event_types: ['response.completed'] }, 'url', /http or https/],
    ['a url that is not one', { name: 'x', url: 'not a url', event_types: ['response.completed'] }, 'url', /absolute http or https URL/],
    ['a url with credentials', { name: 'x', url: 'https://user:pw@example.com/x', event_types: ['response.completed'] }, 'url', /credentials/],
    ['an unknown event type', { name: 'x', url: 'https://93.184.216.34/', event_types: ['response.completed', 'video.completed'] }, 'event_types.1', /must be one of/],
    ['no event types', { name: 'x', url: 'https://93.184.216.34/', event_types: [] }, 'event_types', /at least one/],
    ['an empty name', { name: ' ', url: 'https://93.184.216.34/', event_types: ['batch.failed'] }, 'name', /must not be empty/],
    ['an unknown field', { name: 'x', url: 'https://93.184.216.34/', event_types: ['batch.failed'], secret: 'mine' }, null, /secret/],
  ])('refuses %s with a 400 naming the field', async (_name, body, param, message) => {
    const res = await raw('POST', '/v1/webhook_endpoints', { body });
    expect(res.status).toBe(400);
    expectOpenAIError(res.json, param);
    expect(res.json.error.message).toMatch(message);
  });

  it("keeps each key's endpoints to itself: another key gets 404 and does not list them", async () => {
    const endpoint = await createEndpoint('https://93.184.216.34/private-to-a');
    const b = client('b');
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['POST', '', { name: 'stolen' }],
      ['POST', '/rotate_secret', {}],
      ['POST', '/test', { event_type: 'response.completed' }],
      ['GET', '/deliveries', undefined],
      ['DELETE', '', undefined],
    ] as const) {
      const res = await raw(method, `/v1/webhook_endpoints/${endpoint.id}${path}`, { key: process.env.CIBOX_KEY_B!, body });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    const listed = [];
    for await (const e of b.webhooks.list()) listed.push(e.id);
    expect(listed).not.toContain(endpoint.id);
    expect(await client().webhooks.retrieve(endpoint.id)).toMatchObject({ name: 'e2e' });
  });

  it('sends a test event that the Node and the Python SDK both verify', async () => {
    const r = await receiver();
    const sdk = client();
    const endpoint = await createEndpoint(r.url, sdk);
    const result = await sdk.webhooks.test(endpoint.id, { event_type: 'batch.completed' });
    expect(result).toEqual({ object: 'webhook_endpoint.test', webhook_endpoint_id: endpoint.id, event_type: 'batch.completed', status_code: 200, success: true });
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    const event = await unwrap(sdk, got, endpoint.signing_secret);
    expect(event).toEqual({ id: expect.stringMatching(/^evt_/), object: 'event', type: 'batch.completed', created_at: expect.any(Number), data: { id: expect.stringMatching(/^batch_/) } });
    expect(got.headers['webhook-id']).toBe(event.id);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(await unwrapInPython(got, endpoint.signing_secret)).toEqual({ id: event.id, type: 'batch.completed', data_id: (event.data as { id: string }).id });
    // Under any other secret, neither SDK accepts it.
    await expect(unwrap(sdk, got, newWebhookSecret())).rejects.toThrow(/does not match/);
    await expect(unwrapInPython(got, newWebhookSecret())).rejects.toThrow(/InvalidWebhookSignatureError/);
  });

  it('retries a receiver that fails twice, which gets the event on the third attempt under the same webhook-id', async () => {
    const r = await receiver([500, 500]);
    const sdk = client();
    const endpoint = await createEndpoint(r.url, sdk);
    // The reply carries the first attempt's status.
    expect(await sdk.webhooks.test(endpoint.id, { event_type: 'response.completed' })).toMatchObject({ status_code: 500, success: true });
    await eventually(() => r.received.length >= 3, { timeoutMs: 20_000 });
    const ids = r.received.map((g) => g.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    expect(new Set(r.received.map((g) => g.body)).size).toBe(1);
    const event = await unwrap(sdk, r.received[2]!, endpoint.signing_secret);
    expect(event.id).toBe(ids[0]);
    // Back-off: 200 ms base, doubling (±20% jitter).
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(150);
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(300);
    const log = await eventually(async () => {
      const res = await raw('GET', `/v1/webhook_endpoints/${endpoint.id}/deliveries`);
      return res.json.data.length >= 3 && res.json;
    });
    expect(log.data.map((d: any) => [d.attempt, d.status_code, d.success, d.event_id])).toEqual([
      [3, 200, true, event.id],
      [2, 500, false, event.id],
      [1, 500, false, event.id],
    ]);
  });

  it('rotates the secret: kept for 24 h, both old and new verify the next delivery; not kept, only the new one', async () => {
    const r = await receiver();
    const sdk = client();
    const endpoint = await createEndpoint(r.url, sdk);
    const rotated = await sdk.webhooks.rotateSecret(endpoint.id, { keep_old_secret_active_for_24_hours: true });
    expect(rotated.signing_secret).toMatch(/^whsec_/);
    expect(rotated.signing_secret).not.toBe(endpoint.signing_secret);
    expect(rotated.signing_secret_hint).toBe(`whsec_…${rotated.signing_secret.slice(-4)}`);
    await sdk.webhooks.test(endpoint.id, { event_type: 'response.completed' });
    const both = r.received[0]!;
    expect(both.headers['webhook-signature']!.split(' ')).toEqual([expect.stringMatching(/^v1,/), expect.stringMatching(/^v1,/)]);
    await expect(unwrap(sdk, both, endpoint.signing_secret)).resolves.toBeTruthy();
    await expect(unwrap(sdk, both, rotated.signing_secret)).resolves.toBeTruthy();
    expect((await unwrapInPython(both, endpoint.signing_secret)).id).toBe(both.headers['webhook-id']);

    const again = await sdk.webhooks.rotateSecret(endpoint.id);
    await sdk.webhooks.test(endpoint.id, { event_type: 'response.completed' });
    const one = r.received[1]!;
    expect(one.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    await expect(unwrap(sdk, one, again.signing_secret)).resolves.toBeTruthy();
    await expect(unwrap(sdk, one, rotated.signing_secret)).rejects.toThrow(/does not match/);
  });

  it("does not let a receiver that never answers delay another tenant's deliveries", async () => {
    const dead = await receiver(Array<'hang'>(20).fill('hang'));
    const alive = await receiver();
    const b = await createEndpoint(dead.url, client('b'));
    const a = await createEndpoint(alive.url, client());
    const stuck = Array.from({ length: 6 }, () => raw('POST', `/v1/webhook_endpoints/${b.id}/test`, { key: process.env.CIBOX_KEY_B!, body: { event_type: 'response.completed' } }));
    await eventually(() => dead.received.length >= 4);
    const started = Date.now();
    expect(await client().webhooks.test(a.id, { event_type: 'response.completed' })).toMatchObject({ status_code: 200 });
    // Well under the 2 s that one attempt to the dead receiver may take.
    expect(Date.now() - started).toBeLessThan(1500);
    const [first] = await Promise.all(stuck);
    expect(first!.status).toBe(400);
    expect(first!.json.error).toMatchObject({ code: 'webhook_test_failed', message: expect.stringMatching(/no response within 2000 ms/) });
  });
});

describe('webhooks on a stack that does not allow private targets (with an operator endpoint)', () => {
  let stack: Stack;
  let sdk: OpenAI;
  let key: string;
  let operator: Receiver;
  const operatorSecret = newWebhookSecret();

  beforeAll(async () => {
    operator = await startReceiver();
    ({ stack, key } = await startSuiteStack('webhooks', { env: { WARM_POOL_SIZE: '0', WEBHOOK_URL: operator.url, WEBHOOK_SECRET: operatorSecret } }));
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await operator?.stop();
  });

  it.each([
    ['a loopback address', () => operator.url, /127\.0\.0\.1 is a loopback address/],
    ['a name that resolves to loopback', () => `http://localhost:${operator.port}/webhook`, /localhost resolves to \S+, a loopback address/],
    ['a private address', () => 'http://10.0.0.5/hook', /10\.0\.0\.5 is a private address/],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', /link-local/],
    ['IPv6 loopback', () => 'http://[::1]:8080/hook', /::1 is a loopback address/],
    ['an IPv6 unique local address', () => 'https://[fd00::5]/hook', /unique local/],
  ])('refuses an endpoint at %s with a 400 naming url', async (_name, url, message) => {
    const res = await raw('POST', '/v1/webhook_endpoints', { key, baseUrl: stack.baseUrl, body: { name: 'x', url: url(), event_types: ['response.completed'] } });
    expect(res.status).toBe(400);
    expectOpenAIError(res.json, 'url');
    expect(res.json.error.code).toBe('invalid_url');
    expect(res.json.error.message).toMatch(message);
    expect((await sdk.webhooks.list()).data).toEqual([]);
    expect(operator.received).toHaveLength(0);
  });

  it('refuses to move an endpoint to a private address, and keeps its URL', async () => {
    const endpoint = await sdk.webhooks.create({ name: 'public', url: 'https://93.184.216.34/hook', event_types: ['batch.completed'] });
    const res = await raw('POST', `/v1/webhook_endpoints/${endpoint.id}`, { key, baseUrl: stack.baseUrl, body: { url: 'http://192.168.1.10/hook' } });
    expect(res.status).toBe(400);
    expectOpenAIError(res.json, 'url');
    expect((await sdk.webhooks.retrieve(endpoint.id)).url).toBe('https://93.184.216.34/hook');
    await sdk.webhooks.delete(endpoint.id);
  });

  it("delivers a queued event to the operator's WEBHOOK_URL (trusted on loopback), signed with WEBHOOK_SECRET", async () => {
    const event = webhookEvent('response.completed', 'resp_operator');
    const job: WebhookDeliveryJob = { tenant: tenantOf(key), endpointId: null, eventId: event.id, eventType: event.type, body: JSON.stringify(event) };
    const connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue<WebhookDeliveryJob>(WEBHOOK_QUEUE, { connection });
    try {
      await queue.add('deliver', job, { attempts: 1 });
    } finally {
      await queue.close();
      await connection.quit();
    }
    await eventually(() => operator.received.length === 1);
    const got = operator.received[0]!;
    expect(await sdk.webhooks.unwrap(got.body, got.headers, operatorSecret)).toEqual(event);
    expect(got.headers['cibox-tenant']).toBe(tenantOf(key));
    expect((await unwrapInPython(got, operatorSecret)).id).toBe(event.id);
  });
});
