import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { eventually, startSuiteStack, type Stack } from '@cibox/testing';
import { execute } from './support/executions';

/** The stack as `npm run up` starts it: supervised, so a crashed process comes back by itself. */
describe('a supervised stack', () => {
  let stack: Stack;
  let key: string;
  const lines: string[] = [];

  beforeAll(async () => {
    ({ stack, key } = await startSuiteStack('supervised', { supervise: { log: (line) => lines.push(line), backoff: { initialMs: 200 } } }));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('restarts a worker and an api killed with SIGKILL, which serve again; stopping leaves no sandbox behind', async () => {
    const sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    const run = (cid: string, code: string) => execute(cid, code, { key, baseUrl: stack.baseUrl });
    const redis = new Redis(stack.redisUrl);
    const deployment = (await redis.get('cibox:deployment'))!;
    await redis.quit();
    const sandboxes = () => spawnSync('docker', ['ps', '-aq', '--filter', `label=cibox.deployment=${deployment}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

    const c = await sdk.containers.create({ name: 'supervised' });
    expect((await run(c.id, 'print(1)')).stdout).toBe('1\n');
    const killedWorkersSandboxes = sandboxes();
    expect(killedWorkersSandboxes.length).toBeGreaterThan(0);

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

    // The killed worker's sandboxes are too young for the restarted worker's orphan sweep; stop removes them.
    expect(sandboxes()).toEqual(expect.arrayContaining(killedWorkersSandboxes));
    await stack.stop();
    expect(sandboxes()).toEqual([]);
  });
});
