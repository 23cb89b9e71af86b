import { Logger } from '@nestjs/common';
import { loadConfig, type AppConfig } from '@cibox/config';
import type { WebhookEndpointRecord } from '@cibox/storage';
import type { WebhookEventType } from '@cibox/webhooks';
import { WebhookDispatcher, type WebhookQueue } from './webhook-dispatcher.service';

const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;

function endpoint(id: string, tenant: string, types: WebhookEventType[]): WebhookEndpointRecord {
  return { id, tenant, name: id, url: `https://hooks.example/${id}`, event_types: types, created_at: 1, updated_at: 1, secret, previous_secret: null };
}

/** The dispatcher over an in-memory endpoint list and a fake queue that records what was added. */
function setUp(env: Record<string, string> = {}, addBulk: WebhookQueue['addBulk'] = jest.fn().mockResolvedValue([])) {
  const config: AppConfig = loadConfig({ WEBHOOK_MAX_ATTEMPTS: '5', WEBHOOK_RETRY_BASE_MS: '200', ...env });
  const endpoints = [
    endpoint('whe_a1', 'tn_a', ['response.completed', 'response.failed']),
    endpoint('whe_a2', 'tn_a', ['batch.completed']),
    endpoint('whe_b1', 'tn_b', ['response.completed']),
  ];
  const repo = { subscribed: (tenant: string, type: WebhookEventType) => Promise.resolve(endpoints.filter((e) => e.tenant === tenant && e.event_types.includes(type))) };
  const queue = { addBulk: jest.fn(addBulk) };
  return { dispatcher: new WebhookDispatcher(config, queue, repo), queue };
}

type Added = { name: string; data: { tenant: string; endpointId: string | null; eventId: string; eventType: string; body: string }; opts: Record<string, unknown> }[];

describe('WebhookDispatcher.emit', () => {
  let logged: jest.SpyInstance;
  beforeEach(() => (logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined)));
  afterEach(() => logged.mockRestore());

  it("queues one job per endpoint of the tenant that takes the event type, and no other tenant's", async () => {
    const { dispatcher, queue } = setUp();
    await dispatcher.emit('tn_a', 'response.completed', 'resp_123');
    expect(queue.addBulk).toHaveBeenCalledTimes(1);
    const jobs = queue.addBulk.mock.calls[0]![0] as Added;
    expect(jobs.map((j) => j.data.endpointId)).toEqual(['whe_a1']);
    const event = JSON.parse(jobs[0]!.data.body);
    expect(event).toEqual({ id: expect.stringMatching(/^evt_/), object: 'event', type: 'response.completed', created_at: expect.any(Number), data: { id: 'resp_123' } });
    expect(jobs[0]!.data).toMatchObject({ tenant: 'tn_a', eventId: event.id, eventType: 'response.completed' });
  });

  it('gives each job the configured attempts and exponential back-off', async () => {
    const { dispatcher, queue } = setUp();
    await dispatcher.emit('tn_a', 'response.failed', 'resp_1');
    const [job] = queue.addBulk.mock.calls[0]![0] as Added;
    expect(job!.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 200 } });
  });

  it("adds the operator's endpoint, with the same event, when WEBHOOK_URL is set", async () => {
    const { dispatcher, queue } = setUp({ WEBHOOK_URL: 'https://ops.example/hook', WEBHOOK_SECRET: secret });
    await dispatcher.emit('tn_b', 'response.completed', 'resp_9');
    const jobs = queue.addBulk.mock.calls[0]![0] as Added;
    expect(jobs.map((j) => j.data.endpointId)).toEqual(['whe_b1', null]);
    expect(new Set(jobs.map((j) => j.data.body)).size).toBe(1);
    expect(new Set(jobs.map((j) => j.opts.jobId)).size).toBe(2);
  });

  it('queues nothing when no endpoint takes the event and there is no operator endpoint', async () => {
    const { dispatcher, queue } = setUp();
    await dispatcher.emit('tn_b', 'batch.expired', 'batch_1');
    expect(queue.addBulk).not.toHaveBeenCalled();
  });

  it('never throws into its caller when the queue fails', async () => {
    const { dispatcher, queue } = setUp({}, () => Promise.reject(new Error('Redis is away')));
    await expect(dispatcher.emit('tn_a', 'response.completed', 'resp_1')).resolves.toBeUndefined();
    expect(queue.addBulk).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^webhook event evt_\w+ \(response.completed resp_1\) of tn_a was not queued: Redis is away$/));
  });

  it('gives up after a bound when the queue does not answer', async () => {
    jest.useFakeTimers();
    try {
      const { dispatcher } = setUp({}, () => new Promise(() => undefined));
      let settled = false;
      const emitted = dispatcher.emit('tn_a', 'response.completed', 'resp_1').then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(4000);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1500);
      await emitted;
      expect(settled).toBe(true);
      expect(logged).toHaveBeenCalledWith(expect.stringMatching(/not queued within 5000 ms$/));
    } finally {
      jest.useRealTimers();
    }
  });
});
