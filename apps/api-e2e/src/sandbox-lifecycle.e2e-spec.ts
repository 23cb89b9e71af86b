import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { DEPLOYMENT_LABEL, SANDBOX_LABEL, WORKER_LABEL } from '@cibox/sandbox';
import { eventually, startSuiteStack, type Stack } from '@cibox/testing';
import { ageContainer, client, raw } from './support/clients';
import { execute } from './support/executions';

const dockerInspect = (id: string): any => {
  const r = spawnSync('docker', ['inspect', id], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout)[0] : null;
};

async function redisValue(redisUrl: string, key: string): Promise<string> {
  const redis = new Redis(redisUrl);
  try {
    return (await redis.get(key))!;
  } finally {
    await redis.quit();
  }
}

const sandboxOf = (redisUrl: string, containerId: string) => redisValue(redisUrl, `cibox:container-sandbox:${containerId}`);

describe('sandbox lifecycle', () => {
  const a = client('a');

  it('maps memory_limit to the Docker memory limit', async () => {
    const c = await a.containers.create({ name: 'mem4', memory_limit: '4g' });
    await execute(c.id, '1');
    const info = dockerInspect(await sandboxOf(process.env.CIBOX_REDIS_URL!, c.id));
    expect(info.HostConfig.Memory).toBe(4 * 1024 ** 3);
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
  });

  it('DELETE removes the container\'s Docker container', async () => {
    const c = await a.containers.create({ name: 'to-delete' });
    await execute(c.id, 'x = 1');
    const sandbox = await sandboxOf(process.env.CIBOX_REDIS_URL!, c.id);
    expect(dockerInspect(sandbox)).not.toBeNull();
    expect((await raw('DELETE', `/v1/containers/${c.id}`)).status).toBe(200);
    await eventually(() => dockerInspect(sandbox) === null, { timeoutMs: 20_000 });
  });

  it('idle expiry removes the Docker container', async () => {
    const c = await a.containers.create({ name: 'to-expire', expires_after: { anchor: 'last_active_at', minutes: 1 } });
    await execute(c.id, 'x = 1');
    const sandbox = await sandboxOf(process.env.CIBOX_REDIS_URL!, c.id);
    await ageContainer(c.id, 120);
    await eventually(() => dockerInspect(sandbox) === null, { timeoutMs: 30_000 });
    expect((await a.containers.retrieve(c.id)).status).toBe('expired');
  });
});

describe('losing a worker', () => {
  let stack: Stack;
  let sdk: OpenAI;
  let key: string;

  beforeAll(async () => {
    ({ stack, key } = await startSuiteStack('fault', { env: { REAPER_INTERVAL_MS: '500', QUEUE_LOCK_MS: '2000' } }));
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const run = async (cid: string, code: string) => {
    const res = await fetch(`${stack.baseUrl}/v1/containers/${cid}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    return (await res.json()) as any;
  };

  const liveWorker = () => stack.processes.filter((p) => p.name.startsWith('worker-') && p.child.exitCode === null && p.child.signalCode === null).at(-1)!;

  /** Streams an execution; once its first output arrives runs `meanwhile`, then reads to the end. */
  const streamAcross = async (cid: string, request: { code: string; timeout_ms?: number }, meanwhile: () => Promise<unknown>) => {
    const res = await fetch(`${stack.baseUrl}/v1/containers/${cid}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, stream: true }),
    });
    const body = res.body!.getReader();
    let text = '';
    while (!text.includes('event: stdout')) text += Buffer.from((await body.read()).value).toString();
    await meanwhile();
    for (;;) {
      const { value, done } = await body.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    return { executionId: res.headers.get('x-execution-id')!, done: JSON.parse(/event: done\ndata: (.*)/.exec(text)![1]!).execution };
  };

  it('a container moves to another worker with its files; the dead worker\'s sandbox is reaped', async () => {
    const c = await sdk.containers.create({ name: 'survivor' });
    const first = await run(c.id, 'open("/mnt/data/notes.txt","w").write("kept in S3")\nv = 1');
    expect(first.status).toBe('completed');
    const oldSandbox = await sandboxOf(stack.redisUrl, c.id);

    const w1 = stack.processes.find((p) => p.name === 'worker-w1')!;
    await w1.stop('SIGKILL');
    await stack.startWorker('w2', { REAPER_INTERVAL_MS: '500' });

    // The first execution after the loss waits for the old owner's heartbeat to lapse, then moves.
    const after = await run(c.id, 'print(open("/mnt/data/notes.txt").read())\nprint("v" in globals())');
    expect({ status: after.status, error: after.error }).toEqual({ status: 'completed', error: null });
    expect(after.stdout).toBe('kept in S3\nFalse\n');
    expect(after.state_lost).toBe(true);
    const newSandbox = await sandboxOf(stack.redisUrl, c.id);
    expect(newSandbox).not.toBe(oldSandbox);
    await eventually(() => dockerInspect(oldSandbox) === null, { timeoutMs: 20_000 });
  });

  it('an execution running when its worker dies ends as failed for the waiting client; the container goes on', async () => {
    const c = await sdk.containers.create({ name: 'orphaned-run' });
    const claimed = await run(c.id, 'x = 1'); // claimed by the live worker
    expect({ status: claimed.status, error: claimed.error }).toEqual({ status: 'completed', error: null });
    const owner = liveWorker();

    const { executionId, done } = await streamAcross(c.id, { code: 'import time\nprint("working", flush=True)\ntime.sleep(60)' }, async () => {
      await owner.stop('SIGKILL');
      await stack.startWorker('w3', { REAPER_INTERVAL_MS: '500' });
    });
    expect(done).toMatchObject({ id: executionId, status: 'failed', state_lost: true, error: { name: 'SandboxError' } });
    const stored = await fetch(`${stack.baseUrl}/v1/containers/${c.id}/executions/${executionId}`, { headers: { authorization: `Bearer ${key}` } });
    expect(await stored.json()).toEqual(done);

    const next = await run(c.id, 'print("x" in globals())');
    expect({ status: next.status, stdout: next.stdout, state_lost: next.state_lost }).toEqual({ status: 'completed', stdout: 'False\n', state_lost: true });
  });

  it('a container\'s first execution running when its worker dies is failed, never run a second time', async () => {
    const c = await sdk.containers.create({ name: 'first-run-orphaned' });
    const owner = liveWorker();
    // A second run would complete after its sleep (timeout 90 s) and leave /mnt/data/ran in S3.
    const code = 'import time\nopen("/mnt/data/ran", "w").write("1")\nprint("working", flush=True)\ntime.sleep(20)';
    const { done } = await streamAcross(c.id, { code, timeout_ms: 90_000 }, async () => {
      await owner.stop('SIGKILL');
      await stack.startWorker('w4', { REAPER_INTERVAL_MS: '500' });
    });
    expect(done).toMatchObject({ status: 'failed', state_lost: true, error: { name: 'SandboxError' } });
    // The live worker rescued the dead one's queue: the running job was failed, not run again.
    const next = await run(c.id, 'import os\nprint(os.path.exists("/mnt/data/ran"))');
    expect({ status: next.status, stdout: next.stdout }).toEqual({ status: 'completed', stdout: 'False\n' });
  });

  it('another installation on the same Docker engine never reaps this one\'s sandboxes', async () => {
    // The suite's main stack shares this Docker engine, and has a worker named w1 as this one had;
    // this stack's reaper (every 500 ms) sees w1 as dead in its own Redis.
    const main = client('a');
    const c = await main.containers.create({ name: 'neighbour' });
    expect((await execute(c.id, 'v = 41')).status).toBe('completed');
    // A witness this stack's reaper must remove: a sandbox of its own deployment whose worker never
    // lived. Once it is gone, a full sweep over this stack's sandboxes has run since the main one's began.
    const deployment = await redisValue(stack.redisUrl, 'cibox:deployment');
    const labels = [`${SANDBOX_LABEL}=1`, `${DEPLOYMENT_LABEL}=${deployment}`, `${WORKER_LABEL}=never-lived`].flatMap((l) => ['--label', l]);
    const witness = spawnSync('docker', ['create', ...labels, process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest', 'true'], { encoding: 'utf8' }).stdout.trim();
    expect(dockerInspect(witness)).not.toBeNull();
    await eventually(() => dockerInspect(witness) === null, { timeoutMs: 20_000 });
    const again = await execute(c.id, 'v + 1');
    expect({ results: again.results, state_lost: again.state_lost }).toEqual({ results: [{ type: 'text', text: '42' }], state_lost: false });
  });
});
