import { ConfigError, loadConfig, tenantOf } from './config';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({ API_KEYS: 'k1, k2' });
    expect(c.port).toBe(8080);
    expect(c.maxUploadBytes).toBe(512 * 1024 * 1024);
    expect(c.apiKeyTenants.size).toBe(2);
    expect([...c.apiKeyTenants.values()]).toEqual([tenantOf('k1'), tenantOf('k2')]);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', REDIS_URL: 'not a url', S3_BUCKET: 'UPPER' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'not a url', S3_BUCKET: 'UPPER' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/REDIS_URL/);
      expect((err as Error).message).toMatch(/S3_BUCKET/);
    }
  });

  it('gives each key its own tenant without revealing the key', () => {
    expect(tenantOf('a')).not.toBe(tenantOf('b'));
    expect(tenantOf('sk-secret')).not.toContain('secret');
  });
});

describe('loadConfig: webhooks', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('has no operator endpoint, refuses private targets and retries 12 times by default', () => {
    expect(loadConfig({}).webhooks).toEqual({ operator: null, allowPrivateTargets: false, maxAttempts: 12, retryBaseMs: 30_000, timeoutMs: 10_000, concurrency: 64 });
  });

  it('reads the operator endpoint and the allow flag', () => {
    const c = loadConfig({ WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: secret, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    expect(c.webhooks.operator).toEqual({ url: 'http://127.0.0.1:9/hook', secret });
    expect(c.webhooks.allowPrivateTargets).toBe(true);
  });

  it.each([
    ['a secret without whsec_', { WEBHOOK_URL: 'https://example.com/h', WEBHOOK_SECRET: 'plain-text-secret' }, /WEBHOOK_SECRET/],
    ['a URL without its secret', { WEBHOOK_URL: 'https://example.com/h' }, /WEBHOOK_SECRET: is required/],
    ['a secret without its URL', { WEBHOOK_SECRET: secret }, /WEBHOOK_URL: is required/],
    ['a URL that is not http(s)', { WEBHOOK_URL: 'ftp://example.com/h', WEBHOOK_SECRET: secret }, /WEBHOOK_URL/],
    ['an allow flag that is not a boolean', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'yes' }, /WEBHOOK_ALLOW_PRIVATE_TARGETS/],
    ['zero attempts', { WEBHOOK_MAX_ATTEMPTS: '0' }, /WEBHOOK_MAX_ATTEMPTS/],
  ])('names the variable for %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('serves metrics without a token and runs no worker metrics server by default', () => {
    expect(loadConfig({}).metrics).toEqual({ token: null, workerPort: 0 });
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-token', WORKER_METRICS_PORT: '9464' }).metrics).toEqual({ token: 'a-long-enough-token', workerPort: 9464 });
  });

  it.each([
    ['a short metrics token', { METRICS_TOKEN: 'short' }, /METRICS_TOKEN/],
    ['a worker metrics port past 65535', { WORKER_METRICS_PORT: '70000' }, /WORKER_METRICS_PORT/],
  ])('names the variable for %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('loadConfig: warm pool', () => {
  it('keeps 2 to 8 warm sandboxes and starts 2 at once by default; the maximum is never below the minimum', () => {
    expect(loadConfig({}).sandbox).toMatchObject({ warmPoolSize: 2, warmPoolMax: 8, startConcurrency: 2 });
    expect(loadConfig({ WARM_POOL_SIZE: '12' }).sandbox).toMatchObject({ warmPoolSize: 12, warmPoolMax: 12 });
    expect(loadConfig({ WARM_POOL_SIZE: '0', WARM_POOL_MAX: '0', SANDBOX_START_CONCURRENCY: '4' }).sandbox).toMatchObject({ warmPoolSize: 0, warmPoolMax: 0, startConcurrency: 4 });
  });

  it.each([
    ['a maximum below the minimum', { WARM_POOL_SIZE: '4', WARM_POOL_MAX: '3' }, /WARM_POOL_MAX: must be at least WARM_POOL_SIZE \(4\)/],
    ['a negative maximum', { WARM_POOL_MAX: '-1' }, /WARM_POOL_MAX/],
    ['no sandbox start at a time', { SANDBOX_START_CONCURRENCY: '0' }, /SANDBOX_START_CONCURRENCY/],
  ])('names the variable for %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
