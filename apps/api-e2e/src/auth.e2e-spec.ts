import OpenAI from 'openai';
import { expectOpenAIError, raw } from './support/clients';

describe('authentication and errors', () => {
  it('401 without a key', async () => {
    const res = await raw('GET', '/v1/containers', { key: null });
    expect(res.status).toBe(401);
    expectOpenAIError(res.json);
  });

  it('401 with an unknown key, through the SDK', async () => {
    const c = new OpenAI({ apiKey: 'sk-nope', baseURL: `${process.env.CIBOX_BASE_URL}/v1`, maxRetries: 0 });
    await expect(c.containers.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('404 in OpenAI shape for an unknown route', async () => {
    const res = await raw('GET', '/v1/nothing-here');
    expect(res.status).toBe(404);
    expectOpenAIError(res.json);
  });

  it('400 for malformed JSON', async () => {
    const res = await raw('POST', '/v1/containers', { body: '{"name": ' });
    expect(res.status).toBe(400);
    expectOpenAIError(res.json);
  });

  it('health reports redis, s3 and a live worker', async () => {
    const res = await raw('GET', '/health', { key: null });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', redis: 'ok', s3: 'ok' });
    expect(res.json.workers).toBeGreaterThanOrEqual(1);
  });

  it('returns a request id header', async () => {
    const res = await raw('GET', '/v1/containers');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
  });
});
