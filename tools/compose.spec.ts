import { spawnSync } from 'node:child_process';
import path from 'node:path';

describe('docker-compose.yml', () => {
  const root = path.resolve(__dirname, '..');
  const config = (env: Record<string, string>) =>
    spawnSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config'], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });

  it('passes docker-compose config with redis (append-only), minio, api and worker', () => {
    const r = config({ S3_ACCESS_KEY: 'access', S3_SECRET_KEY: 'secretsecret', API_KEYS: 'sk-1' });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    for (const service of ['redis:', 'minio:', 'api:', 'worker:']) expect(r.stdout).toContain(service);
    expect(r.stdout).toMatch(/appendonly/);
  });

  it('restarts every service that stops on its own (restart: unless-stopped)', () => {
    const r = config({ S3_ACCESS_KEY: 'access', S3_SECRET_KEY: 'secretsecret', API_KEYS: 'sk-1' });
    const services = r.stdout.split(/^ {2}(?=\w[\w-]*:\n)/m).filter((block) => / image: /.test(block));
    expect(services.map((block) => block.split(':')[0]).sort()).toEqual(['api', 'minio', 'redis', 'worker']);
    for (const block of services) expect(block).toMatch(/^ {4}restart: unless-stopped$/m);
  });

  it('refuses to start without API keys or S3 credentials (no default secrets)', () => {
    const r = config({});
    expect(r.status).not.toBe(0);
  });
});
