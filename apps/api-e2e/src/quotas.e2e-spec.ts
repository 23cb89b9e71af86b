import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { tenantOf } from '@cibox/config';
import { eventually, startStack, type Stack } from '@cibox/testing';
import { expectOpenAIError, raw, storedObjectKeys } from './support/clients';

/** Keys of this suite's own stack, each with the limit a test pushes against. */
const keys = {
  requests: `sk-rpm-${randomBytes(6).toString('hex')}`,
  containers: `sk-cntr-${randomBytes(6).toString('hex')}`,
  race: `sk-race-${randomBytes(6).toString('hex')}`,
  executions: `sk-exec-${randomBytes(6).toString('hex')}`,
  floodA: `sk-flood-a-${randomBytes(6).toString('hex')}`,
  tenantB: `sk-flood-b-${randomBytes(6).toString('hex')}`,
};
const WORKER_CONCURRENCY = 3;
const FLOOD_LIMIT = 2;
const RACE_LIMIT = 3;

let stack: Stack;
let baseUrl: string;

beforeAll(async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cibox-quotas-'));
  const keysFile = path.join(dataDir, 'keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify({
      keys: [
        { key: keys.requests, limits: { requests_per_minute: 3 } },
        { key: keys.containers, limits: { live_containers: 2 } },
        { key: keys.race, limits: { live_containers: RACE_LIMIT } },
        { key: keys.executions, limits: { concurrent_executions: 1 } },
        { key: keys.floodA, limits: { concurrent_executions: FLOOD_LIMIT } },
        { key: keys.tenantB },
      ],
      defaults: { concurrent_executions: FLOOD_LIMIT, requests_per_minute: 600 },
    }),
  );
  stack = await startStack({
    apiKeys: [],
    dataDir,
    workers: 1,
    env: {
      LOG_LEVEL: 'warn',
      SANDBOX_IMAGE: process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest',
      WARM_POOL_SIZE: '1',
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      API_KEYS_FILE: keysFile,
    },
  });
  baseUrl = stack.baseUrl;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const sdk = (key: string) => new OpenAI({ apiKey: key, baseURL: `${baseUrl}/v1`, maxRetries: 0 });

function expect429(res: { status: number; headers: Headers; json: any }, suffix: string, limit: number) {
  expect(res.status).toBe(429);
  expectOpenAIError(res.json, null);
  expect(res.json.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
  expect(res.headers.get(`x-ratelimit-limit-${suffix}`)).toBe(String(limit));
  expect(res.headers.get(`x-ratelimit-remaining-${suffix}`)).toBe('0');
  expect(res.headers.get(`x-ratelimit-reset-${suffix}`)).toMatch(/^\d+s$/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

/** Starts a streamed execution and returns its id once it is queued, with the rest of its stream. */
async function startStreamed(key: string, containerId: string, code: string): Promise<{ status: number; id: string | null; json: any; headers: Headers; ended: Promise<string> }> {
  const res = await fetch(`${baseUrl}/v1/containers/${containerId}/executions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ code, stream: true }),
  });
  if (res.status !== 200) return { status: res.status, id: null, json: await res.json(), headers: res.headers, ended: Promise.resolve('') };
  return { status: 200, id: res.headers.get('x-execution-id'), json: null, headers: res.headers, ended: res.text() };
}

async function statusOf(key: string, containerId: string, executionId: string): Promise<string> {
  const res = await raw('GET', `/v1/containers/${containerId}/executions/${executionId}`, { key, baseUrl });
  return (res.json as { status: string }).status;
}

describe('requests_per_minute', () => {
  it('counts down in x-ratelimit-remaining-requests, then answers 429 with the headers', async () => {
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const res = await raw('GET', '/v1/containers', { key: keys.requests, baseUrl });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      remaining.push(res.headers.get('x-ratelimit-remaining-requests'));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    expect429(await raw('GET', '/v1/containers', { key: keys.requests, baseUrl }), 'requests', 3);
  });

  it('is what the SDK sees as a RateLimitError', async () => {
    await expect(sdk(keys.requests).containers.list()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('leaves other tenants alone', async () => {
    const res = await raw('GET', '/v1/containers', { key: keys.tenantB, baseUrl });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('600');
  });

  it('does not count unauthenticated requests against anyone', async () => {
    expect((await raw('GET', '/v1/containers', { key: 'sk-unknown', baseUrl })).status).toBe(401);
  });
});

describe('live_containers', () => {
  it('refuses a third live container with 429, and allows one again once a container is deleted', async () => {
    const client = sdk(keys.containers);
    const first = await client.containers.create({ name: 'one' });
    await client.containers.create({ name: 'two' });
    expect429(await raw('POST', '/v1/containers', { key: keys.containers, baseUrl, body: { name: 'three' } }), 'containers', 2);
    await client.containers.delete(first.id);
    expect((await client.containers.create({ name: 'three' })).name).toBe('three');
  });

  it(`lets exactly ${RACE_LIMIT} of 10 creations racing at once in, and the refused ones keep no files`, async () => {
    const client = sdk(keys.race);
    const file = await client.files.create({ file: await toFile(Buffer.from('a,b\n1,2\n'), 'data.csv'), purpose: 'user_data' });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => raw('POST', '/v1/containers', { key: keys.race, baseUrl, body: { name: `race-${i}`, file_ids: [file.id] } })),
    );
    const created = results.filter((r) => r.status === 200);
    expect(created).toHaveLength(RACE_LIMIT);
    for (const r of results.filter((x) => x.status !== 200)) expect429(r, 'containers', RACE_LIMIT);
    const listed = await client.containers.list();
    expect(listed.data.map((c) => c.id).sort()).toEqual(created.map((r) => (r.json as { id: string }).id).sort());
    // Each refused creation had copied the file before the count refused it: the copies are gone.
    const tenant = tenantOf(keys.race);
    const copies = (await storedObjectKeys({ s3Endpoint: stack.s3Endpoint, prefix: `t/${tenant}/containers/` })).map((k) => k.split('/')[3]);
    expect(new Set(copies)).toEqual(new Set(listed.data.map((c) => c.id)));
    expect(copies).toHaveLength(RACE_LIMIT);
  });
});

describe('concurrent_executions', () => {
  it('refuses a second execution in flight with 429, and frees the slot when the first ends, cancelled', async () => {
    const client = sdk(keys.executions);
    const [c1, c2] = await Promise.all([client.containers.create({ name: 'e1' }), client.containers.create({ name: 'e2' })]);
    const slow = await startStreamed(keys.executions, c1.id, 'import time\ntime.sleep(60)');
    expect(slow.status).toBe(200);
    const refused = await raw('POST', `/v1/containers/${c2.id}/executions`, { key: keys.executions, baseUrl, body: { code: 'print(1)' } });
    expect429(refused, 'executions', 1);
    await raw('POST', `/v1/containers/${c1.id}/executions/${slow.id}/cancel`, { key: keys.executions, baseUrl });
    expect(await slow.ended).toContain('event: done');
    const after = await raw('POST', `/v1/containers/${c2.id}/executions`, { key: keys.executions, baseUrl, body: { code: 'print(1)' } });
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ status: 'completed', stdout: '1\n' });
  }, 120_000);
});

describe('fairness', () => {
  it(`lets tenant B's single cell finish while tenant A floods a worker of ${WORKER_CONCURRENCY} slots with slow cells`, async () => {
    const a = sdk(keys.floodA);
    const containersA = await Promise.all([0, 1, 2, 3].map((i) => a.containers.create({ name: `flood-${i}` })));
    const containerB = await sdk(keys.tenantB).containers.create({ name: 'b' });
    // Three slow cells per container: four times the worker's slots, all at once.
    const flood = await Promise.all(containersA.flatMap((c) => [0, 1, 2].map(() => startStreamed(keys.floodA, c.id, 'import time\ntime.sleep(60)').then((r) => ({ ...r, containerId: c.id })))));
    const running = flood.filter((r) => r.status === 200);
    expect(running).toHaveLength(FLOOD_LIMIT);
    for (const r of flood.filter((x) => x.status !== 200)) expect429(r, 'executions', FLOOD_LIMIT);

    const b = await raw('POST', `/v1/containers/${containerB.id}/executions`, { key: keys.tenantB, baseUrl, body: { code: 'print("b")' } });
    expect(b.json).toMatchObject({ status: 'completed', stdout: 'b\n' });
    // B ended while every one of A's accepted cells was still running (each sleeps a minute).
    for (const r of running) expect(await statusOf(keys.floodA, r.containerId, r.id!)).toBe('in_progress');

    await Promise.all(running.map((r) => raw('POST', `/v1/containers/${r.containerId}/executions/${r.id}/cancel`, { key: keys.floodA, baseUrl })));
    await Promise.all(running.map((r) => r.ended));
  }, 150_000);
});

describe('requests_per_minute, a minute later', () => {
  it('frees up once the oldest request leaves the window', async () => {
    await eventually(async () => (await raw('GET', '/v1/containers', { key: keys.requests, baseUrl })).status === 200, { timeoutMs: 75_000, intervalMs: 2_000 });
  }, 90_000);
});
