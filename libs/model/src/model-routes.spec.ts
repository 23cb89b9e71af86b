import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@cibox/config';
import { ModelNotConfiguredError, ModelNotFoundError } from '@cibox/contracts';
import { createModelClient } from './index';
import { loadModelRouter, type ModelConfig } from './model-routes';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cibox-models-'));
let n = 0;
const modelsFile = (content: unknown) => {
  const file = path.join(dir, `models-${++n}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};
const config = (over: Partial<ModelConfig>): ModelConfig => ({ baseUrl: null, apiKey: null, modelsFile: null, timeoutMs: 1000, maxRetries: 0, ...over });
const loadError = (content: unknown, over: Partial<ModelConfig> = {}, env: NodeJS.ProcessEnv = {}) => {
  const file = modelsFile(content);
  try {
    loadModelRouter(config({ modelsFile: file, ...over }), env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(`Invalid MODELS_FILE ${file}: `);
    return message.slice(`Invalid MODELS_FILE ${file}: `.length);
  }
  throw new Error('expected a ConfigError');
};

const ROUTES = {
  models: [
    { id: 'gpt-4o', base_url: 'https://api.openai.com/v1/', api_key_env: 'OPENAI_KEY' },
    { id: 'llama3.1', base_url: 'http://127.0.0.1:11434/v1', upstream_model: 'llama3.1:8b', owned_by: 'ollama' },
    { id: 'openai/*', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_KEY', upstream_model: '*' },
    { id: 'openai/o*', base_url: 'http://o.example/v1' },
    { id: 'local-default' },
  ],
};

describe('the models file', () => {
  const env = { OPENAI_KEY: 'sk-openai' };
  const router = loadModelRouter(config({ modelsFile: modelsFile(ROUTES), baseUrl: 'http://default.example/v1', apiKey: 'sk-default' }), env);

  it('routes an exact id, with its key from api_key_env and the base URL without its trailing slash', () => {
    expect(router.resolve('gpt-4o')).toEqual({ upstream: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-openai', keySource: 'OPENAI_KEY' }, model: 'gpt-4o' });
  });

  it('maps a name by upstream_model, and sends no key to a route that has none', () => {
    expect(router.resolve('llama3.1')).toMatchObject({ upstream: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: null }, model: 'llama3.1:8b' });
  });

  it('routes by the longest matching wildcard, putting what `*` matched into upstream_model', () => {
    expect(router.resolve('openai/gpt-4o')).toMatchObject({ upstream: { baseUrl: 'https://api.openai.com/v1' }, model: 'gpt-4o' });
    expect(router.resolve('openai/o3-mini')).toMatchObject({ upstream: { baseUrl: 'http://o.example/v1' }, model: 'openai/o3-mini' });
  });

  it('gives an entry without base_url the default upstream and its key', () => {
    expect(router.resolve('local-default')).toMatchObject({ upstream: { baseUrl: 'http://default.example/v1', apiKey: 'sk-default', keySource: 'MODEL_API_KEY' } });
  });

  it('sends any other name to the default upstream as it is', () => {
    expect(router.resolve('mistral')).toMatchObject({ upstream: { baseUrl: 'http://default.example/v1' }, model: 'mistral' });
  });

  it('without a default upstream, an unrouted name is model_not_found', () => {
    const alone = loadModelRouter(config({ modelsFile: modelsFile({ models: [{ id: 'a', base_url: 'http://a.example/v1' }] }) }));
    expect(() => alone.resolve('b')).toThrow(ModelNotFoundError);
  });

  it('with nothing configured, resolving says what to set', () => {
    expect(() => loadModelRouter(config({})).resolve('x')).toThrow(ModelNotConfiguredError);
  });

  it('lists its exact ids (not the wildcards) on GET /v1/models', async () => {
    const client = createModelClient(config({ modelsFile: modelsFile({ models: ROUTES.models.filter((r) => r.base_url) }) }), { env });
    const models = await client.listModels();
    expect(models.map((m) => [m.id, m.owned_by])).toEqual([['gpt-4o', 'cibox'], ['llama3.1', 'ollama']]);
    expect(models[0]).toMatchObject({ object: 'model', created: expect.any(Number) });
  });

  describe('is validated at start, naming the file and the field', () => {
    it.each<[string, unknown, string]>([
      ['a bad URL', { models: [{ id: 'a', base_url: 'not a url' }] }, 'models.0.base_url: Invalid url'],
      ['an unknown field', { models: [{ id: 'a', base_url: 'http://a/v1', apikey: 'x' }] }, "models.0: Unrecognized key(s) in object: 'apikey'"],
      ['a duplicate id', { models: [{ id: 'a', base_url: 'http://a/v1' }, { id: 'a', base_url: 'http://b/v1' }] }, "models.1.id: duplicate id 'a'"],
      ['a wildcard inside an id', { models: [{ id: 'a*b', base_url: 'http://a/v1' }] }, 'models.0.id: a wildcard `*` may only end the id'],
      ['both api_key and api_key_env', { models: [{ id: 'a', base_url: 'http://a/v1', api_key: 'k', api_key_env: 'K' }] }, 'models.0.api_key: give api_key_env or api_key, not both'],
      ['no models array', { routes: [] }, 'models: Required'],
      ['no base_url and no MODEL_BASE_URL', { models: [{ id: 'a' }] }, 'models.0.base_url: required when MODEL_BASE_URL is unset'],
      ['an unset api_key_env', { models: [{ id: 'a', base_url: 'http://a/v1', api_key_env: 'NOT_SET_ANYWHERE' }] }, 'models.0.api_key_env: the environment variable NOT_SET_ANYWHERE is not set'],
    ])('%s', (_name, content, why) => {
      expect(loadError(content)).toContain(why);
    });

    it('JSON that does not parse', () => {
      expect(loadError('{"models": [')).toMatch(/^not valid JSON/);
    });

    it('a file that is missing', () => {
      const file = path.join(dir, 'missing.json');
      expect(() => loadModelRouter(config({ modelsFile: file }))).toThrow(`Invalid MODELS_FILE ${file}: cannot read it`);
    });
  });
});
