import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { eventually, freePort, startSuiteStack, type Stack } from '@cibox/testing';
import { raw } from './support/clients';
import { execute } from './support/executions';
import { sample } from './support/metrics';

/** The worker's warm pool against real Docker, read through its metrics and `docker ps`. */
describe('the warm pool follows demand', () => {
  let stack: Stack;
  let key: string;
  let metricsUrl: string;
  let deployment: string;

  beforeAll(async () => {
    const port = await freePort();
    ({ stack, key } = await startSuiteStack('warm-pool', { env: { WORKER_METRICS_PORT: String(port), WARM_POOL_SIZE: '1', WARM_POOL_MAX: '3' } }));
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const redis = new Redis(stack.redisUrl);
    deployment = (await redis.get('cibox:deployment'))!;
    redis.disconnect();
  }, 120_000);
  afterAll(() => stack?.stop());

  const scrape = async () => (await fetch(metricsUrl)).text();
  const pooled = async () => sample(await scrape(), 'cibox_sandboxes', { state: 'pooled' });
  /** This stack's sandboxes in Docker (the suite's own stack has a worker `w1` too). */
  const inDocker = async () => {
    const { stdout } = await promisify(execFile)('docker', ['ps', '-q', '--filter', `label=cibox.deployment=${deployment}`]);
    return stdout.split('\n').filter(Boolean).length;
  };

  it('grows with the containers started, up to WARM_POOL_MAX, counting hits and misses, then shrinks back to WARM_POOL_SIZE', async () => {
    await eventually(async () => (await pooled()) === 1, { timeoutMs: 60_000 });
    const before = await scrape();
    expect(sample(before, 'cibox_warm_pool_target')).toBe(1);

    const containers = 6;
    for (let i = 0; i < containers; i++) {
      const created = await raw('POST', '/v1/containers', { baseUrl: stack.baseUrl, key, body: { name: `pool-${i}` } });
      expect((await execute(created.json.id, 'print(1)', { baseUrl: stack.baseUrl, key })).stdout).toBe('1\n');
    }
    const after = await scrape();
    const taken = (result: string) => sample(after, 'cibox_warm_pool_takes_total', { result }) - sample(before, 'cibox_warm_pool_takes_total', { result });
    expect(taken('hit') + taken('miss')).toBe(containers);
    expect(taken('hit')).toBeGreaterThanOrEqual(1); // the first took the sandbox the pool held at rest
    // Six takes just now: more than WARM_POOL_MAX.
    expect(sample(after, 'cibox_warm_pool_target')).toBe(3);
    await eventually(async () => (await pooled()) === 3, { timeoutMs: 60_000 });
    expect(await inDocker()).toBe(containers + 3);

    // No more takes: their count falls under 1.5 within about 40 s, and a pass of the pool removes the two extra.
    await eventually(async () => (await pooled()) === 1, { timeoutMs: 120_000, intervalMs: 1000 });
    expect(sample(await scrape(), 'cibox_warm_pool_target')).toBe(1);
    await eventually(async () => (await inDocker()) === containers + 1, { timeoutMs: 30_000 });
  }, 300_000);
});
