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
