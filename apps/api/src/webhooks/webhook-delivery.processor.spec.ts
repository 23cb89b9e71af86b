import { Logger } from '@nestjs/common';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { loadConfig } from '@cibox/config';
import type { QueueProducers, WebhookDeliveryJob } from '@cibox/queue';
import { eventually } from '@cibox/testing';
import type { WebhookDeliveryRepository, WebhookEndpointRecord, WebhookEndpointRepository } from '@cibox/storage';
import { newWebhookSecret, webhookEvent, type WebhookDeliveryObject } from '@cibox/webhooks';
import { webhookDeliveryProcessor } from './webhook-delivery.processor';
import { ApiMetrics } from '../metrics/api-metrics.service';

const sdk = new OpenAI({ apiKey: 'unused' });

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver answering `status` (or holding the request while `hold` is set). */
async function receiver() {
  const got: Received[] = [];
  const held: http.ServerResponse[] = [];
  const state = { status: 200, hold: false };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      if (state.hold) held.push(res);
      else res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { url, got, held, state, close };
}

function setUp(url: string, env: Record<string, string> = {}) {
  const config = loadConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_TIMEOUT_MS: '3000', ...env });
  const endpoint: WebhookEndpointRecord = {
    id: 'whe_1',
    tenant: 'tn_a',
    name: 'one',
    url,
    event_types: ['response.completed'],
    created_at: 1,
    updated_at: 1,
    secret: newWebhookSecret(),
    previous_secret: null,
  };
  const records: { endpointId: string; delivery: WebhookDeliveryObject }[] = [];
  const endpoints = { current: endpoint as WebhookEndpointRecord | null };
  const repo: Pick<WebhookEndpointRepository, 'get'> = { get: (tenant: string, id: string) => Promise.resolve(endpoints.current?.tenant === tenant && endpoints.current.id === id ? endpoints.current : null) };
  const deliveries: Pick<WebhookDeliveryRepository, 'record'> = { record: (endpointId: string, delivery: WebhookDeliveryObject) => Promise.resolve(void records.push({ endpointId, delivery })) };
  const Processor = webhookDeliveryProcessor(config);
  const metrics = new ApiMetrics({} as QueueProducers);
  const processor = new Processor(config, repo, deliveries, metrics);
  return { processor, endpoint, endpoints, records, metrics };
}

function job(endpointId: string | null, attemptsMade = 0, moveToDelayed = jest.fn().mockResolvedValue(undefined)) {
  const event = webhookEvent('response.completed', 'resp_1');
  const data: WebhookDeliveryJob = { tenant: 'tn_a', endpointId, eventId: event.id, eventType: event.type, body: JSON.stringify(event) };
  return { data, attemptsMade, moveToDelayed } as unknown as Job<WebhookDeliveryJob>;
}

describe('WebhookDeliveryProcessor', () => {
  let r: Awaited<ReturnType<typeof receiver>>;
  beforeEach(async () => {
    r = await receiver();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await r.close();
  });

  it('sends the event signed with the endpoint secret, which the SDK verifies, and records the attempt', async () => {
    const { processor, endpoint, records } = setUp(r.url);
    const j = job('whe_1');
    await processor.process(j);
    expect(r.got).toHaveLength(1);
    const event = await sdk.webhooks.unwrap(r.got[0]!.body, r.got[0]!.headers, endpoint.secret);
    expect(event).toMatchObject({ id: j.data.eventId, type: 'response.completed', data: { id: 'resp_1' } });
    expect(r.got[0]!.headers['webhook-id']).toBe(j.data.eventId);
    expect(records).toEqual([
      {
        endpointId: 'whe_1',
        delivery: expect.objectContaining({ event_id: j.data.eventId, event_type: 'response.completed', attempt: 1, status_code: 200, success: true, error: null }),
      },
    ]);
  });

  it('throws on a non-2xx, so BullMQ retries, recording the attempt; the retry has the same webhook-id', async () => {
    const { processor, records, metrics } = setUp(r.url);
    const j = job('whe_1');
    r.state.status = 500;
    await expect(processor.process(j)).rejects.toThrow('attempt 1 failed: HTTP 500');
    r.state.status = 200;
    await processor.process({ ...j, attemptsMade: 1 } as typeof j);
    expect(r.got.map((g) => g.headers['webhook-id'])).toEqual([j.data.eventId, j.data.eventId]);
    expect(r.got[1]!.body).toBe(r.got[0]!.body);
    expect(records.map((x) => [x.delivery.attempt, x.delivery.status_code, x.delivery.success])).toEqual([
      [1, 500, false],
      [2, 200, true],
    ]);
    const attempts = await metrics.registry.getSingleMetric('cibox_webhook_attempts_total')!.get();
    expect(attempts.values.map((v) => [v.labels.result, v.value])).toEqual([
      ['failed', 1],
      ['delivered', 1],
    ]);
  });

  it('signs with both secrets while a rotated-out one is kept, and with the new one only after', async () => {
    const { processor, endpoint, endpoints } = setUp(r.url);
    const old = endpoint.secret;
    const fresh = newWebhookSecret();
    endpoints.current = { ...endpoint, secret: fresh, previous_secret: { secret: old, expires_at: Math.floor(Date.now() / 1000) + 3600 } };
    await processor.process(job('whe_1'));
    const first = r.got[0]!;
    expect(String(first.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) await expect(sdk.webhooks.unwrap(first.body, first.headers as Record<string, string>, secret)).resolves.toBeTruthy();
    endpoints.current = { ...endpoint, secret: fresh, previous_secret: { secret: old, expires_at: Math.floor(Date.now() / 1000) - 1 } };
    await processor.process(job('whe_1'));
    const second = r.got[1]!;
    expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(1);
    await expect(sdk.webhooks.unwrap(second.body, second.headers as Record<string, string>, old)).rejects.toThrow();
  });

  it('drops the job of an endpoint deleted since, sending and recording nothing', async () => {
    const { processor, endpoints, records } = setUp(r.url);
    endpoints.current = null;
    await expect(processor.process(job('whe_1'))).resolves.toBeUndefined();
    expect(r.got).toHaveLength(0);
    expect(records).toHaveLength(0);
  });

  it('refuses, for good, a tenant endpoint on a private address when private targets are not allowed', async () => {
    const { processor, records } = setUp(r.url, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
    await expect(processor.process(job('whe_1'))).rejects.toThrow(UnrecoverableError);
    expect(r.got).toHaveLength(0);
    expect(records[0]!.delivery).toMatchObject({ status_code: null, success: false, error: '127.0.0.1 is a loopback address' });
  });

  it("delivers to the operator's endpoint, trusted on loopback, signed with WEBHOOK_SECRET and naming the tenant", async () => {
    const secret = newWebhookSecret();
    const { processor, records } = setUp('https://unused.example/', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', WEBHOOK_URL: r.url, WEBHOOK_SECRET: secret });
    await processor.process(job(null));
    expect(r.got).toHaveLength(1);
    expect(r.got[0]!.headers['cibox-tenant']).toBe('tn_a');
    await expect(sdk.webhooks.unwrap(r.got[0]!.body, r.got[0]!.headers as Record<string, string>, secret)).resolves.toBeTruthy();
    expect(records[0]!.endpointId).toBe('operator');
  });

  it('holds at most 4 attempts per endpoint at once; the next waits without spending an attempt', async () => {
    const { processor } = setUp(r.url);
    r.state.hold = true;
    const running = [1, 2, 3, 4].map(() => processor.process(job('whe_1')));
    await eventually(() => r.held.length === 4);
    const moveToDelayed = jest.fn().mockResolvedValue(undefined);
    await expect(processor.process(job('whe_1', 0, moveToDelayed), 'token')).rejects.toThrow(DelayedError);
    expect(moveToDelayed).toHaveBeenCalledWith(expect.any(Number), 'token');
    for (const res of r.held) res.writeHead(200).end();
    await Promise.all(running);
    expect(r.got).toHaveLength(4);
  });
});
