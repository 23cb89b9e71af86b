import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { ScriptedUpstreamClient, startStack, type Stack } from '@cibox/testing';
import { client, expectOpenAIError, raw } from './support/clients';

describe('GET /v1/models with the default upstream (the scripted one)', () => {
  it('lists what the upstream lists, which the api asked for with MODEL_API_KEY', async () => {
    const upstream = new ScriptedUpstreamClient();
    const model = ScriptedUpstreamClient.newModel();
    await upstream.script(model, [{ content: 'unused' }]);
    const models = [];
    for await (const m of client().models.list()) models.push(m);
    expect(models).toEqual(expect.arrayContaining([{ id: 'openai/gpt-4o', object: 'model', created: expect.any(Number), owned_by: 'scripted-upstream' }]));
    expect(models.map((m) => m.id)).toContain(model);
  });

  it('retrieves one model, even with a slash in its name', async () => {
    expect(await client().models.retrieve('openai/gpt-4o')).toMatchObject({ id: 'openai/gpt-4o', object: 'model' });
  });

  it('answers 404 model_not_found for a model nobody serves', async () => {
    const res = await raw('GET', '/v1/models/no-such-model');
    expect(res.status).toBe(404);
    expectOpenAIError(res.json, 'model');
    expect(res.json.error.code).toBe('model_not_found');
  });

  it('needs an API key', async () => {
    const res = await raw('GET', '/v1/models', { key: null });
    expect(res.status).toBe(401);
    expectOpenAIError(res.json);
  });
});

/** A second api on the suite's Redis and S3 (served by the suite's worker), with its own model settings. */
async function apiWith(env: Record<string, string>): Promise<{ stack: Stack; sdk: OpenAI }> {
  const key = `sk-models-${randomBytes(6).toString('hex')}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cibox-models-'));
  const stack = await startStack({
    apiKeys: [key],
    dataDir,
    redisUrl: process.env.CIBOX_REDIS_URL,
    s3Endpoint: process.env.CIBOX_S3_ENDPOINT,
    workers: 0,
    env: { LOG_LEVEL: 'warn', ...env },
  });
  return { stack, sdk: new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 }) };
}

describe('GET /v1/models with other model settings', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('lists the exact ids of MODELS_FILE, not its wildcards', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cibox-models-file-')), 'models.json');
    writeFileSync(
      file,
      JSON.stringify({
        models: [
          { id: 'gpt-4o', base_url: 'http://127.0.0.1:9/v1', api_key_env: 'E2E_OPENAI_KEY' },
          { id: 'llama3.1', base_url: 'http://127.0.0.1:9/v1', upstream_model: 'llama3.1:8b', owned_by: 'ollama' },
          { id: 'openai/*', base_url: 'http://127.0.0.1:9/v1', upstream_model: '*' },
        ],
      }),
    );
    const api = await apiWith({ MODELS_FILE: file, E2E_OPENAI_KEY: 'sk-e2e' });
    stack = api.stack;
    const models = (await api.sdk.models.list()).data;
    expect(models.map((m) => [m.id, m.owned_by])).toEqual([['gpt-4o', 'cibox'], ['llama3.1', 'ollama']]);
  });

  it('lists nothing, and still serves everything else, when no upstream is configured', async () => {
    const api = await apiWith({});
    stack = api.stack;
    expect((await api.sdk.models.list()).data).toEqual([]);
    expect((await api.sdk.containers.list()).data).toBeDefined();
    // What needs a model says what to set, as a 503 in OpenAI's shape.
    for (const call of [
      () => api.sdk.responses.create({ model: 'gpt-4o', input: 'hi', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }),
      () => api.sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      () => api.sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'code_interpreter' } as never] }),
    ]) {
      const err = (await call().catch((e: unknown) => e)) as { status?: number; error?: { message?: string; code?: string } };
      expect(err.status).toBe(503);
      expect(err.error?.code).toBe('model_not_configured');
      expect(err.error?.message).toMatch(/MODEL_BASE_URL/);
    }
  });

  it('refuses to start on an invalid MODELS_FILE, naming the file and the field', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cibox-models-file-')), 'models.json');
    writeFileSync(file, JSON.stringify({ models: [{ id: 'a', base_url: 'not a url' }] }));
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cibox-models-bad-'));
    const start = startStack({ apiKeys: ['sk-x'], dataDir, redisUrl: process.env.CIBOX_REDIS_URL, s3Endpoint: process.env.CIBOX_S3_ENDPOINT, workers: 0, env: { MODELS_FILE: file } });
    await expect(start).rejects.toThrow(/api exited with 1/);
    expect(readFileSync(path.join(dataDir, 'api.log'), 'utf8')).toContain(`Invalid MODELS_FILE ${file}: models.0.base_url: Invalid url`);
  });
});
