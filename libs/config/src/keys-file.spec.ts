import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, hashKey, limitsOf, loadConfig, tenantOf } from './config';

function keysFile(content: unknown): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cibox-keys-')), 'keys.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadConfig: API_KEYS_FILE', () => {
  it('adds the file\'s keys, plain or hashed, with their limits over the defaults', () => {
    const file = keysFile({
      keys: [{ key: 'sk-a', limits: { requests_per_minute: 5 } }, { key_sha256: hashKey('sk-b') }],
      defaults: { concurrent_executions: 8, requests_per_minute: 600 },
    });
    const c = loadConfig({ API_KEYS: 'sk-env', API_KEYS_FILE: file });
    expect([...c.apiKeyTenants.values()].sort()).toEqual([tenantOf('sk-env'), tenantOf('sk-a'), tenantOf('sk-b')].sort());
    expect(limitsOf(c, tenantOf('sk-a'))).toEqual({ concurrent_executions: 8, requests_per_minute: 5 });
    expect(limitsOf(c, tenantOf('sk-b'))).toEqual({ concurrent_executions: 8, requests_per_minute: 600 });
    expect(limitsOf(c, tenantOf('sk-env'))).toEqual({ concurrent_executions: 8, requests_per_minute: 600 });
  });

  it('has no limits without a file', () => {
    expect(limitsOf(loadConfig({ API_KEYS: 'k' }), tenantOf('k'))).toEqual({});
  });

  it('names the file and the bad field', () => {
    const file = keysFile({ keys: [{ key: 'sk-a', limits: { requests_per_minute: -1 } }] });
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(ConfigError);
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(new RegExp(`${file}[\\s\\S]*keys\\.0\\.limits\\.requests_per_minute`));
  });

  it('refuses an unknown limit', () => {
    const file = keysFile({ keys: [{ key: 'sk-a', limits: { tokens_per_minute: 1 } }] });
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(/tokens_per_minute/);
  });

  it('names a file that is not JSON', () => {
    const file = keysFile('{not json');
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(new RegExp(`API_KEYS_FILE ${file}`));
  });
});
