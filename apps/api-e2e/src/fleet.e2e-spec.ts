import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { WORKER_LABEL } from '@cibox/sandbox';
import { WorkerRegistry } from '@cibox/storage';
import { eventually, freePort, startSuiteStack, type ManagedProcess, type Stack } from '@cibox/testing';
import { expectOpenAIError, raw } from './support/clients';
import { execute, type Execution } from './support/executions';

/**
 * Several workers on one stack: placement by free capacity, the capacity 429, a worker drained by
 * SIGTERM, and a rolling restart of every worker under load. Workers are w1, w2… as started.
 */
describe('a fleet of workers', () => {
  let stack: Stack;
  let key: string;
  let sdk: OpenAI;
  let redis: Redis;
  let registry: WorkerRegistry;
  let w1Metrics: string;

  beforeAll(async () => {
    const metricsPort = await freePort();
    w1Metrics = `http://127.0.0.1:${metricsPort}/metrics`;
    // w1 takes 2 containers (and serves its metrics), w2 takes 5.
    ({ stack, key } = await startSuiteStack('fleet', {
      workers: [{ WORKER_MAX_CONTAINERS: '2', WORKER_METRICS_PORT: String(metricsPort) }, { WORKER_MAX_CONTAINERS: '5' }],
      env: { REAPER_INTERVAL_MS: '500', QUEUE_LOCK_MS: '5000' },
    }));
    sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    redis = new Redis(stack.redisUrl);
    registry = new WorkerRegistry(redis);
    // The stack is up once one worker is: placement needs both.
    await eventually(async () => (await registry.isAlive('w1')) && registry.isAlive('w2'), { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await redis?.quit();
    await stack?.stop();
  });

  const run = (containerId: string, code: string) => execute(containerId, code, { key, baseUrl: stack.baseUrl });
  const worker = (id: string) => stack.processes.find((p) => p.name === `worker-${id}`)!;
  /** The worker label of the Docker container the container's last execution ran in. */
  const sandboxWorker = async (containerId: string) => {
    const sandbox = await registry.boundSandbox(containerId);
    const r = spawnSync('docker', ['inspect', '--format', `{{index .Config.Labels "${WORKER_LABEL}"}}`, sandbox!], { encoding: 'utf8' });
    return r.stdout.trim();
  };
  const startWorker = async (id: string, env: Record<string, string> = {}) => {
    const p = await stack.startWorker(id, env);
    await eventually(() => registry.isAlive(id), { timeoutMs: 60_000 });
    return p;
  };
  /** SIGTERM, and the exit code once it has stopped. */
  const drain = async (p: ManagedProcess) => {
    const exited = new Promise<number | string | null>((resolve) => p.child.once('exit', (code, signal) => resolve(code ?? signal)));
    p.child.kill('SIGTERM');
    return exited;
  };
  const removeContainers = async () => {
    for await (const c of sdk.containers.list()) await sdk.containers.delete(c.id);
  };
  afterEach(removeContainers);

  it('places each new container on the worker with the most room left; its executions run there', async () => {
    const ids: string[] = [];
    const owners: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await sdk.containers.create({ name: `placed-${i}` });
      ids.push(c.id);
      owners.push((await registry.owner(c.id))!);
    }
    // Loads once placed: w1 1/2 against w2 1/5, 2/5, then 3/5 (w1 wins), then 4/5 and 5/5 against 2/2.
    expect(owners).toEqual(['w2', 'w2', 'w1', 'w2', 'w2']);
    const metrics = await (await fetch(w1Metrics)).text();
    expect(metrics).toMatch(/^cibox_worker_capacity\{worker="w1",resource="containers"\} 2$/m);
    expect(metrics).not.toMatch(/^cibox_worker_capacity\{worker="w1",resource="memory_bytes"\}/m);
    expect(metrics).toMatch(/^cibox_worker_placed\{worker="w1",resource="containers"\} 1$/m);
    expect(metrics).toMatch(new RegExp(`^cibox_worker_placed\\{worker="w1",resource="memory_bytes"\\} ${1024 ** 3}$`, 'm'));
    expect(metrics).toMatch(/^cibox_worker_draining\{worker="w1"\} 0$/m);
    for (const i of [0, 2]) {
      const ran = await run(ids[i]!, 'print("here")');
      expect({ status: ran.status, stdout: ran.stdout, state_lost: ran.state_lost }).toEqual({ status: 'completed', stdout: 'here\n', state_lost: false });
      expect(await sandboxWorker(ids[i]!)).toBe(owners[i]);
    }
    await removeContainers();
    expect([await registry.load('w1'), await registry.load('w2')]).toEqual([
      { containers: 0, memoryBytes: 0 },
      { containers: 0, memoryBytes: 0 },
    ]);
  });

  it('refuses a container with 429 when every worker is full, storing nothing; a deletion makes room', async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await sdk.containers.create({ name: `fill-${i}` })).id);
    expect([(await registry.load('w1')).containers, (await registry.load('w2')).containers]).toEqual([2, 5]);

    const refused = await sdk.containers.create({ name: 'one too many' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, code: 'capacity_exceeded', type: 'server_error' });
    const res = await raw('POST', '/v1/containers', { body: { name: 'one too many' }, key, baseUrl: stack.baseUrl });
    expect(res.status).toBe(429);
    expectOpenAIError(res.json, null);
    expect(res.json.error.message).toMatch(/workers are at capacity/);
    const names = [];
    for await (const c of sdk.containers.list()) names.push(c.name);
    expect(names).toHaveLength(7);
    expect(names).not.toContain('one too many');

    const owners = await Promise.all(created.map((id) => registry.owner(id)));
    await sdk.containers.delete(created[owners.indexOf('w1')]!);
    const again = await sdk.containers.create({ name: 'room again' });
    expect(await registry.owner(again.id)).toBe('w1');
  });

  it('drains a worker on SIGTERM: its running cell completes, it exits 0, and its container moves with its files', async () => {
    const c = await sdk.containers.create({ name: 'drained' });
    const owner = (await registry.owner(c.id))!;
    const other = owner === 'w1' ? 'w2' : 'w1';
    const before = await run(c.id, 'open("/mnt/data/notes.txt", "w").write("kept in S3")\nv = 1');
    expect(before.status).toBe('completed');
    expect(await sandboxWorker(c.id)).toBe(owner);

    // A cell in flight when the signal comes, streamed; and one more queued behind it meanwhile.
    const res = await fetch(`${stack.baseUrl}/v1/containers/${c.id}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'import time\nprint("started", flush=True)\ntime.sleep(3)\nprint("finished")', stream: true }),
    });
    const body = res.body!.getReader();
    let text = '';
    while (!text.includes('event: stdout')) text += Buffer.from((await body.read()).value).toString();
    const exitCode = drain(worker(owner));
    const queuedBehind = run(c.id, 'print("queued behind")');
    for (;;) {
      const { value, done } = await body.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    const inFlight = JSON.parse(/event: done\ndata: (.*)/.exec(text)![1]!).execution as Execution;
    expect({ status: inFlight.status, stdout: inFlight.stdout, state_lost: inFlight.state_lost }).toEqual({
      status: 'completed',
      stdout: 'started\nfinished\n',
      state_lost: false,
    });
    expect(await exitCode).toBe(0);
    const queued = await queuedBehind;
    expect({ status: queued.status, stdout: queued.stdout }).toEqual({ status: 'completed', stdout: 'queued behind\n' });

    const after = await run(c.id, 'print(open("/mnt/data/notes.txt").read())\nprint("v" in globals())');
    expect({ status: after.status, stdout: after.stdout }).toEqual({ status: 'completed', stdout: 'kept in S3\nFalse\n' });
    expect(await registry.owner(c.id)).toBe(other);
    expect(await sandboxWorker(c.id)).toBe(other);
    // The first execution on the new worker says the variables are gone: the one queued behind the
    // cell if it reached the drained worker after the hand-over (it was forwarded), else this one.
    expect([queued.state_lost, after.state_lost].filter(Boolean)).toEqual([true]);
  });

  it('loses nothing in a rolling restart of every worker under load', async () => {
    // The fleet: the workers still running (w1, and w2 unless it was drained), and w3.
    await startWorker('w3', { WORKER_MAX_CONTAINERS: '2' });
    const olds = stack.processes.filter((p) => p.name.startsWith('worker-') && p.child.exitCode === null);
    const containers: string[] = [];
    for (let i = 0; i < 4; i++) containers.push((await sdk.containers.create({ name: `rolling-${i}` })).id);
    const holders = new Set(await Promise.all(containers.map(async (id) => `worker-${await registry.owner(id)}`)));
    expect(holders.size).toBeGreaterThan(1);

    // Each client appends a line to a file in its container and prints the line count: every
    // execution accepted runs once, in order, on the files of all before it, wherever it runs.
    let rolling = true;
    const code = 'with open("/mnt/data/log.txt", "a") as f: f.write("x\\n")\nprint(sum(1 for _ in open("/mnt/data/log.txt")))';
    const clients = containers.map(async (id) => {
      const executions: Execution[] = [];
      let after = 0;
      while (rolling || after++ < 3) executions.push(await run(id, code));
      return executions;
    });
    const exits: (number | string | null)[] = [];
    try {
      // Each container ran in a sandbox on its first worker before that worker goes.
      await eventually(async () => (await Promise.all(containers.map((id) => registry.boundSandbox(id)))).every(Boolean), { timeoutMs: 60_000 });
      for (const [i, old] of olds.entries()) {
        await startWorker(`r${i + 1}`, { WORKER_MAX_CONTAINERS: '4' });
        exits.push(await drain(old));
      }
    } finally {
      rolling = false;
    }
    const results = await Promise.all(clients);
    expect(exits).toEqual(olds.map(() => 0));
    for (const executions of results) {
      expect(executions.map((e) => ({ status: e.status, error: e.error }))).toEqual(executions.map(() => ({ status: 'completed', error: null })));
      expect(executions.map((e) => e.stdout)).toEqual(executions.map((_, n) => `${n + 1}\n`));
    }
    // Every container moved off the old workers, and said so.
    for (const [i, id] of containers.entries()) {
      expect(olds.map((p) => p.name)).not.toContain(`worker-${await registry.owner(id)}`);
      expect(results[i]!.some((e) => e.state_lost)).toBe(true);
    }
  });
});
