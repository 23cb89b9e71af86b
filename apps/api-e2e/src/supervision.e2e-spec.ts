import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { eventually, startStack, type Stack } from '@cibox/testing';

const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });

async function redisGet(redisUrl: string, key: string): Promise<string> {
  const redis = new Redis(redisUrl);
  try {
    return (await redis.get(key))!;
  } finally {
    await redis.quit();
  }
}

/** The stack as `npm run up` starts it: supervised, so a crashed process comes back by itself. */
describe('a supervised stack', () => {
  let stack: Stack;
  let key: string;
  const lines: string[] = [];

  beforeAll(async () => {
    key = `sk-supervised-${randomBytes(6).toString('hex')}`;
    stack = await startStack({
      apiKeys: [key],
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'cibox-supervised-')),
      workers: 1,
      env: { LOG_LEVEL: 'warn', SANDBOX_IMAGE: process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest', WARM_POOL_SIZE: '1' },
      supervise: { log: (line) => lines.push(line), backoff: { initialMs: 200 } },
    });
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

  it('restarts a worker and an api killed with SIGKILL, which serve again; stopping leaves no sandbox behind', async () => {
    const sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    const c = await sdk.containers.create({ name: 'supervised' });
    expect((await run(c.id, 'print(1)')).stdout).toBe('1\n');
    const killedSandbox = await redisGet(stack.redisUrl, `cibox:container-sandbox:${c.id}`);

    const worker = stack.processes.find((p) => p.name === 'worker-w1')!;
    const pid = worker.child.pid;
    worker.child.kill('SIGKILL');
    await eventually(() => worker.restarts === 1 && worker.child.pid !== pid, { timeoutMs: 10_000 });
    expect(lines[0]).toMatch(/^worker-w1 exited \(signal SIGKILL\) after [\d.]+ m?s; restarting in 200 ms \(at [\d:.]+ UTC\)$/);

    // The restarted worker has the same id, so it takes its container back, with a new sandbox.
    const after = await run(c.id, 'print(2)');
    expect({ status: after.status, stdout: after.stdout, state_lost: after.state_lost }).toEqual({ status: 'completed', stdout: '2\n', state_lost: true });

    const api = stack.processes.find((p) => p.name === 'api')!;
    api.child.kill('SIGKILL');
    await eventually(() => api.restarts === 1, { timeoutMs: 10_000 });
    await eventually(async () => (await fetch(`${stack.baseUrl}/health`)).status === 200, { timeoutMs: 30_000 });
    expect((await sdk.containers.retrieve(c.id)).id).toBe(c.id);

    // The killed worker's sandbox is too young for the restarted worker's orphan sweep; stop removes it.
    expect(docker('inspect', killedSandbox).status).toBe(0);
    const deployment = await redisGet(stack.redisUrl, 'cibox:deployment');
    await stack.stop();
    expect(docker('ps', '-aq', '--filter', `label=cibox.deployment=${deployment}`).stdout.trim()).toBe('');
  });
});
