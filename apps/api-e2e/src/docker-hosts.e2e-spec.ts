import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { DEFAULT_DOCKER_HOST } from '@cibox/config';
import { DEPLOYMENT_LABEL, WORKER_LABEL } from '@cibox/sandbox';
import { dockerAt, eventually, freePort, startDockerEngine, startSuiteStack, type DockerEngine, type Stack } from '@cibox/testing';
import { execute } from './support/executions';

const IMAGE = process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest';

/**
 * One api, one Redis, one S3, and workers on two Docker engines of this machine: the one `npm test`
 * runs, and a second dockerd with its own socket, data root and exec root (libs/testing, which
 * copies the sandbox image into it once and keeps it for later runs). The second engine's first
 * worker reaches it as a remote one: over TCP with TLS.
 */
describe('workers on two Docker engines', () => {
  let engine2: DockerEngine;
  let stack: Stack;
  let key: string;
  let sdk: OpenAI;
  let redis: Redis;
  let deployment: string;
  const host1 = process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const metricsPort: Record<string, number> = {};
  /** Containers made by the spread test, with the worker that took each. */
  const owners = new Map<string, string>();

  const run = (cid: string, code: string) => execute(cid, code, { key, baseUrl: stack.baseUrl });
  const worker = (id: string) => stack.processes.find((p) => p.name === `worker-${id}`)!;
  /** This stack's sandboxes on the engine at `host`: Docker id → the worker label. */
  const sandboxesOn = async (host: string) => {
    const out = await dockerAt(host)(['ps', '-a', '--no-trunc', '--filter', `label=${DEPLOYMENT_LABEL}=${deployment}`, '--format', `{{.ID}} {{.Label "${WORKER_LABEL}"}}`]);
    return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
  };
  const health = async (id: string) => (await fetch(`http://127.0.0.1:${metricsPort[id]}/health`)).json() as Promise<any>;
  const startWorker = async (id: string, docker: Record<string, string>) => {
    metricsPort[id] = await freePort();
    await stack.startWorker(id, { ...docker, WORKER_METRICS_PORT: String(metricsPort[id]) });
    await eventually(async () => (await health(id)).status === 'ok', { timeoutMs: 60_000, intervalMs: 200 });
  };

  beforeAll(async () => {
    engine2 = await startDockerEngine({ images: [IMAGE], log: (line) => process.stdout.write(`[docker-engine] ${line}\n`) });
    metricsPort.w1 = await freePort();
    // Every worker reaps often, so a sweep that should not remove something has had its chance.
    const env = { QUEUE_LOCK_MS: '5000', REAPER_INTERVAL_MS: '500', DOCKER_HOST: host1, WORKER_METRICS_PORT: String(metricsPort.w1) };
    ({ stack, key } = await startSuiteStack('hosts', { env }));
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    redis = new Redis(stack.redisUrl);
    deployment = (await redis.get('cibox:deployment'))!;
    await startWorker('w2', { DOCKER_HOST: engine2.tls.host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: engine2.tls.certPath });
  }, 15 * 60_000);

  afterAll(async () => {
    await redis?.quit();
    await stack?.stop();
    await engine2?.stop();
  }, 120_000);

  it('each worker names the engine it drives (one over TLS), in /health and in its metrics', async () => {
    expect(await health('w1')).toMatchObject({ status: 'ok', worker: 'w1', engine: { address: host1 } });
    const w2 = await health('w2');
    expect(w2).toMatchObject({ status: 'ok', worker: 'w2', engine: { address: engine2.tls.host, id: expect.any(String), name: expect.any(String) } });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort.w2}/metrics`)).text();
    expect(metrics).toContain(`cibox_worker_engine_info{worker="w2",address="${engine2.tls.host}",engine_id="${w2.engine.id}",engine_name="${w2.engine.name}",version="${w2.engine.version}"} 1`);
  });

  /** Starts a worker that should refuse to start; resolves to its log once it has exited. */
  const failedStart = async (id: string, env: Record<string, string>, says: string) => {
    const p = await stack.startWorker(id, env);
    const log = path.join(stack.dataDir, `worker-${id}.log`);
    await eventually(() => p.child.exitCode !== null && readFileSync(log, 'utf8').includes(says), { timeoutMs: 60_000, intervalMs: 200 });
    expect(p.child.exitCode).toBe(1);
    return readFileSync(log, 'utf8');
  };

  it('a worker whose engine lacks the sandbox image exits at start, saying so', async () => {
    expect(await failedStart('w-no-image', { DOCKER_HOST: engine2.host, SANDBOX_IMAGE: 'cibox-sandbox:absent' }, 'SANDBOX_IMAGE')).toContain(
      `the sandbox image cibox-sandbox:absent (SANDBOX_IMAGE) is not on the Docker engine at ${engine2.host}: build it there ` +
        `(npx tsx tools/sandbox-image.ts) or copy it (docker save cibox-sandbox:absent | docker -H ${engine2.host} load)`,
    );
  });

  it('a worker that reaches a TLS engine without TLS exits at start, saying so', async () => {
    const log = await failedStart('w-no-tls', { DOCKER_HOST: engine2.tls.host }, 'DOCKER_HOST');
    expect(log).toContain(`cannot reach the Docker engine at ${engine2.tls.host} (DOCKER_HOST): `);
  });

  it('spreads containers over both engines: each runs where its owner drives', async () => {
    // Keep creating containers until both workers hold some (they take turns today; placement by free
    // capacity alternates them), and never fewer than four.
    for (let i = 0; i < 12 && (owners.size < 4 || new Set(owners.values()).size < 2); i++) {
      const c = await sdk.containers.create({ name: `spread-${i}` });
      const first = await run(c.id, `open("/mnt/data/home.txt", "w").write("${c.id}")\nv = "${c.id}"`);
      expect({ status: first.status, error: first.error }).toEqual({ status: 'completed', error: null });
      owners.set(c.id, (await redis.get(`cibox:container-owner:${c.id}`))!);
    }
    expect(new Set(owners.values())).toEqual(new Set(['w1', 'w2']));
    const [on1, on2] = await Promise.all([sandboxesOn(host1), sandboxesOn(engine2.host)]);
    for (const [cid, owner] of owners) {
      const sandbox = (await redis.get(`cibox:container-sandbox:${cid}`))!;
      expect({ cid, engine: on1.has(sandbox) ? 1 : on2.has(sandbox) ? 2 : null }).toEqual({ cid, engine: owner === 'w1' ? 1 : 2 });
    }
    expect(new Set(on1.values())).toEqual(new Set(['w1']));
    expect(new Set(on2.values())).toEqual(new Set(['w2']));
  });

  it('a worker killed with SIGKILL: its containers run on the other engine next, with their files and state_lost', async () => {
    const moved = [...owners].filter(([, owner]) => owner === 'w2').map(([cid]) => cid);
    const stayed = [...owners].filter(([, owner]) => owner === 'w1').map(([cid]) => cid);
    expect(moved.length).toBeGreaterThan(0);
    for (const cid of moved) {
      await eventually(async () => (await redis.get(`cibox:container-owner:${cid}`)) === 'w2' && (await redis.get(`cibox:container-sandbox:${cid}`)), { timeoutMs: 10_000 });
    }
    await worker('w2').stop('SIGKILL');

    for (const cid of moved) {
      const after = await run(cid, 'print(open("/mnt/data/home.txt").read())\nprint("v" in globals())');
      expect({ status: after.status, stdout: after.stdout, state_lost: after.state_lost }).toEqual({ status: 'completed', stdout: `${cid}\nFalse\n`, state_lost: true });
      expect(await redis.get(`cibox:container-owner:${cid}`)).toBe('w1');
      expect((await sandboxesOn(host1)).get((await redis.get(`cibox:container-sandbox:${cid}`))!)).toBe('w1');
    }
    for (const cid of stayed) {
      const again = await run(cid, 'print(v)');
      expect({ stdout: again.stdout, state_lost: again.state_lost }).toEqual({ stdout: `${cid}\n`, state_lost: false });
    }
  });

  it('the dead worker\'s sandboxes stay on an engine nobody drives, until a worker starts there and reaps them', async () => {
    const left = [...(await sandboxesOn(engine2.host))].filter(([, w]) => w === 'w2').map(([id]) => id);
    expect(left.length).toBeGreaterThan(0);
    await startWorker('w3', { DOCKER_HOST: engine2.host });
    await eventually(async () => ![...(await sandboxesOn(engine2.host)).values()].includes('w2'), { timeoutMs: 30_000, intervalMs: 200 });
    // The newcomer's own warm sandbox is there, and the other engine's live containers kept their state.
    expect([...(await sandboxesOn(engine2.host)).values()]).toContain('w3');
    const [stayed] = [...owners].find(([, owner]) => owner === 'w1')!;
    const again = await run(stayed, 'print(v)');
    expect({ stdout: again.stdout, state_lost: again.state_lost }).toEqual({ stdout: `${stayed}\n`, state_lost: false });
  });
});
