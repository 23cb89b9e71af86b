import { spawnSync } from 'node:child_process';
import path from 'node:path';

describe('docker-compose.yml', () => {
  const root = path.resolve(__dirname, '..');
  const secrets = { S3_ACCESS_KEY: 'access', S3_SECRET_KEY: 'secretsecret', API_KEYS: 'sk-1' };
  const config = (env: Record<string, string>, files = ['docker-compose.yml']) =>
    spawnSync('docker-compose', [...files.flatMap((f) => ['-f', path.join(root, f)]), 'config'], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
  /** The services of `docker-compose config`'s output, each as its indented block of text. */
  const services = (stdout: string) =>
    new Map(
      stdout
        .split(/^ {2}(?=\w[\w-]*:\n)/m)
        .filter((block) => / image: /.test(block))
        .map((block) => [block.split(':')[0]!, block]),
    );

  it('passes docker-compose config with redis (append-only), minio, api and worker', () => {
    const r = config(secrets);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    for (const service of ['redis:', 'minio:', 'api:', 'worker:']) expect(r.stdout).toContain(service);
    expect(r.stdout).toMatch(/appendonly/);
  });

  it('restarts every service that stops on its own (restart: unless-stopped)', () => {
    const all = services(config(secrets).stdout);
    expect([...all.keys()].sort()).toEqual(['api', 'minio', 'redis', 'worker']);
    for (const block of all.values()) expect(block).toMatch(/^ {4}restart: unless-stopped$/m);
  });

  it('lets workers scale (--scale worker=N): no fixed name, published port or worker id', () => {
    const worker = services(config(secrets).stdout).get('worker')!;
    expect(worker).not.toMatch(/^ {4}(container_name|ports):/m);
    expect(worker).not.toMatch(/WORKER_ID/);
  });

  it('checks the health of the api (/health) and of each worker (/health on its metrics port)', () => {
    const all = services(config(secrets).stdout);
    expect(all.get('api')).toMatch(/^ {4}healthcheck:\n(?: {6}.*\n)*? {6}- 'fetch\(''http:\/\/127\.0\.0\.1:8080\/health''\)/m);
    const worker = all.get('worker')!;
    const port = /^ {6}WORKER_METRICS_PORT: '(\d+)'$/m.exec(worker)?.[1];
    expect(port).toBeDefined();
    expect(worker).toMatch(new RegExp(`^ {4}healthcheck:\\n(?: {6}.*\\n)*? {6}- 'fetch\\(''http://127\\.0\\.0\\.1:${port}/health''\\)`, 'm'));
  });

  it('gives the worker the host\'s Docker socket by default', () => {
    const worker = services(config(secrets).stdout).get('worker')!;
    expect(worker).toMatch(/^ {6}DOCKER_HOST: unix:\/\/\/var\/run\/docker\.sock$/m);
    expect(worker).toMatch(/^ {4}- \/var\/run\/docker\.sock:\/var\/run\/docker\.sock/m);
  });

  it('points workers at a remote engine over TLS with docker-compose.remote-engine.yml', () => {
    const files = ['docker-compose.yml', 'docker-compose.remote-engine.yml'];
    const r = config({ ...secrets, WORKER_DOCKER_HOST: 'tcp://docker-2.internal:2376', WORKER_DOCKER_CERTS: '/etc/cibox/docker-2' }, files);
    expect(r.status).toBe(0);
    const worker = services(r.stdout).get('worker')!;
    expect(worker).toMatch(/^ {6}DOCKER_HOST: tcp:\/\/docker-2\.internal:2376$/m);
    expect(worker).toMatch(/^ {6}DOCKER_TLS_VERIFY: '1'$/m);
    expect(worker).toMatch(/^ {6}DOCKER_CERT_PATH: \/certs$/m);
    expect(worker).toMatch(/^ {4}- \/etc\/cibox\/docker-2:\/certs:ro$/m);
    expect(config(secrets, files).stderr).toMatch(/set WORKER_DOCKER_HOST/);
  });

  it('refuses to start without API keys or S3 credentials (no default secrets)', () => {
    const r = config({});
    expect(r.status).not.toBe(0);
  });
});
