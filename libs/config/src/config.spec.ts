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

  it('serves no queue dashboard without ADMIN_KEY', () => {
    expect(loadConfig({}).adminKey).toBeNull();
    expect(loadConfig({ ADMIN_KEY: 'admin-0123456789abcdef' }).adminKey).toBe('admin-0123456789abcdef');
  });

  it.each([
    ['a short admin key', { ADMIN_KEY: 'short' }, /ADMIN_KEY: must be at least 16/],
    ['an admin key with a space', { ADMIN_KEY: 'admin key 0123456789' }, /ADMIN_KEY/],
    ["an admin key that is also a tenant's key", { ADMIN_KEY: 'sk-shared-0123456789', API_KEYS: 'sk-other-0123456789,sk-shared-0123456789' }, /ADMIN_KEY: must not be a tenant's API key/],
  ])('names the variable for %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('loadConfig: worker capacity', () => {
  it('caps a worker at 128 containers and no memory by default', () => {
    expect(loadConfig({}).capacity).toEqual({ maxContainers: 128, maxMemoryBytes: null });
  });

  it.each([
    ['bytes', '17179869184', 16 * 1024 ** 3],
    ['a g suffix, as the tiers are written', '16g', 16 * 1024 ** 3],
    ['an upper-case unit with GiB', '64GiB', 64 * 1024 ** 3],
    ['megabytes', '512m', 512 * 1024 ** 2],
    ['terabytes with a space and b', '1 tb', 1024 ** 4],
    ['an empty value (no cap)', '', null],
  ])('reads WORKER_MAX_MEMORY as %s', (_name, value, bytes) => {
    expect(loadConfig({ WORKER_MAX_MEMORY: value, WORKER_MAX_CONTAINERS: '4' }).capacity).toEqual({ maxContainers: 4, maxMemoryBytes: bytes });
  });

  it.each([
    ['a word', { WORKER_MAX_MEMORY: 'lots' }, /WORKER_MAX_MEMORY: must be a positive size/],
    ['a fraction', { WORKER_MAX_MEMORY: '1.5g' }, /WORKER_MAX_MEMORY/],
    ['zero', { WORKER_MAX_MEMORY: '0' }, /WORKER_MAX_MEMORY/],
    ['an unknown unit', { WORKER_MAX_MEMORY: '16p' }, /WORKER_MAX_MEMORY/],
    ['a size past what a number holds exactly', { WORKER_MAX_MEMORY: '99999999999t' }, /WORKER_MAX_MEMORY/],
    ['zero containers', { WORKER_MAX_CONTAINERS: '0' }, /WORKER_MAX_CONTAINERS/],
    ['a container count that is not a number', { WORKER_MAX_CONTAINERS: 'many' }, /WORKER_MAX_CONTAINERS/],
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
