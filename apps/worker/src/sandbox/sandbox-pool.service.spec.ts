import { Logger } from '@nestjs/common';
import type { AppConfig } from '@cibox/config';
import { ACTIVE_CPU_SHARES, MEMORY_TIER_BYTES, WARM_CPU_SHARES, WORKER_LABEL } from '@cibox/sandbox';
import { FakeSandbox, FakeSandboxDriver, eventually } from '@cibox/testing';
import { SandboxPool } from './sandbox-pool.service';

function setup(warmPoolSize: number) {
  const driver = new FakeSandboxDriver();
  const config = { workerId: 'w-test', sandbox: { warmPoolSize } } as AppConfig;
  const pool = new SandboxPool(config, driver);
  return { driver, pool };
}

/** The warm pool's sandboxes: known to the pool and bound to no container. */
function warmIds(pool: SandboxPool): string[] {
  const live = new Set(pool.liveContainerIds().map((c) => pool.get(c)?.sandbox.id));
  return [...pool.knownSandboxIds()].filter((id) => !live.has(id));
}

async function filled(pool: SandboxPool, size: number): Promise<string[]> {
  await eventually(() => warmIds(pool).length === size, { timeoutMs: 5000, intervalMs: 5 });
  return warmIds(pool);
}

let pools: SandboxPool[] = [];
beforeAll(() => Logger.overrideLogger(false));
afterEach(async () => {
  await Promise.all(pools.map((p) => p.onModuleDestroy()));
  pools = [];
});

function started(warmPoolSize: number) {
  const s = setup(warmPoolSize);
  pools.push(s.pool);
  return s;
}

describe('SandboxPool', () => {
  it('fills the warm pool to WARM_POOL_SIZE at bootstrap, at low CPU weight, and no further', async () => {
    const { driver, pool } = started(2);
    pool.onApplicationBootstrap();
    await filled(pool, 2);
    expect(driver.createCalls).toEqual([
      { memoryBytes: MEMORY_TIER_BYTES['1g'], cpuShares: WARM_CPU_SHARES, labels: { [WORKER_LABEL]: 'w-test' } },
      { memoryBytes: MEMORY_TIER_BYTES['1g'], cpuShares: WARM_CPU_SHARES, labels: { [WORKER_LABEL]: 'w-test' } },
    ]);
    pool.onApplicationBootstrap(); // a refill of a full pool starts nothing (it would call create at once)
    expect(driver.createCalls).toHaveLength(2);
  });

  it('refills the warm pool after a sandbox is taken from it', async () => {
    const { driver, pool } = started(2);
    pool.onApplicationBootstrap();
    const before = await filled(pool, 2);
    const live = await pool.acquire('cntr_a', '1g');
    expect(before).toContain(live.sandbox.id);
    const after = await filled(pool, 2);
    expect(after).not.toContain(live.sandbox.id);
    expect(driver.createCalls).toHaveLength(3);
  });

  it('gives a container a warm sandbox, raised to its memory tier and the active CPU weight', async () => {
    const { driver, pool } = started(1);
    pool.onApplicationBootstrap();
    const [warmId] = await filled(pool, 1);
    const live = await pool.acquire('cntr_a', '4g');
    expect(live.sandbox.id).toBe(warmId);
    expect((live.sandbox as FakeSandbox).updates).toEqual([{ memoryBytes: MEMORY_TIER_BYTES['4g'], cpuShares: ACTIVE_CPU_SHARES }]);
    expect(live).toMatchObject({ containerId: 'cntr_a', memoryLimit: '4g', syncedVersion: null });
    expect(driver.createCalls.filter((c) => c.cpuShares === ACTIVE_CPU_SHARES)).toEqual([]);
  });

  it('creates a sandbox at the container tier when the warm pool is empty', async () => {
    const { driver, pool } = started(0);
    const live = await pool.acquire('cntr_a', '16g');
    expect(driver.createCalls).toEqual([{ memoryBytes: MEMORY_TIER_BYTES['16g'], cpuShares: ACTIVE_CPU_SHARES, labels: { [WORKER_LABEL]: 'w-test' } }]);
    expect((live.sandbox as FakeSandbox).updates).toEqual([]);
  });

  it('returns the same live sandbox to a second acquire', async () => {
    const { driver, pool } = started(0);
    const first = await pool.acquire('cntr_a', '1g');
    const second = await pool.acquire('cntr_a', '1g');
    expect(second).toBe(first);
    expect(pool.get('cntr_a')).toBe(first);
    expect(driver.createCalls).toHaveLength(1);
  });

  it('gives different containers different sandboxes', async () => {
    const { pool } = started(0);
    const [a, b] = await Promise.all([pool.acquire('cntr_a', '1g'), pool.acquire('cntr_b', '1g')]);
    expect(a.sandbox.id).not.toBe(b.sandbox.id);
    expect(pool.liveContainerIds().sort()).toEqual(['cntr_a', 'cntr_b']);
  });

  it('starts ONE sandbox for concurrent acquires of one container during a slow create', async () => {
    const { driver, pool } = started(0);
    const release = driver.holdCreates();
    const acquires = [pool.acquire('cntr_a', '1g'), pool.acquire('cntr_a', '1g'), pool.acquire('cntr_a', '1g')];
    await eventually(() => driver.createCalls.length === 1, { intervalMs: 5 });
    release();
    const [a, b, c] = await Promise.all(acquires);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(driver.createCalls).toHaveLength(1);
    expect(driver.sandboxes).toHaveLength(1);
  });

  it('replaces a sandbox whose kernel died with a new one on the next acquire, and removes the dead one', async () => {
    const { driver, pool } = started(0);
    const dead = await pool.acquire('cntr_a', '4g');
    (dead.sandbox as FakeSandbox).kill();
    await dead.sandbox.session.closed;
    expect(pool.get('cntr_a')).toBeUndefined();
    const fresh = await pool.acquire('cntr_a', '4g');
    expect(fresh.sandbox.id).not.toBe(dead.sandbox.id);
    expect(fresh.sandbox.session.alive).toBe(true);
    expect(driver.removed).toEqual([dead.sandbox.id]);
    expect(pool.get('cntr_a')).toBe(fresh);
  });

  it('skips (and removes) a warm sandbox that died while waiting', async () => {
    const { driver, pool } = started(1);
    pool.onApplicationBootstrap();
    const [warmId] = await filled(pool, 1);
    const warm = driver.sandboxes.find((s) => s.id === warmId)!;
    warm.kill();
    await warm.session.closed;
    const live = await pool.acquire('cntr_a', '1g');
    expect(live.sandbox.id).not.toBe(warmId);
    expect(live.sandbox.session.alive).toBe(true);
    await eventually(() => driver.removed.includes(warmId!), { intervalMs: 5 });
  });

  it('discard removes the container sandbox and forgets it', async () => {
    const { driver, pool } = started(0);
    const live = await pool.acquire('cntr_a', '1g');
    await pool.discard('cntr_a');
    expect(driver.removed).toEqual([live.sandbox.id]);
    expect(pool.liveContainerIds()).toEqual([]);
    expect(pool.knownSandboxIds().has(live.sandbox.id)).toBe(false);
    await pool.discard('cntr_a'); // nothing left to remove
    expect(driver.removed).toHaveLength(1);
  });

  it('rejects acquire when the sandbox cannot be created, and a later acquire starts one', async () => {
    const { driver, pool } = started(0);
    driver.failNextCreate(new Error('image not found'));
    await expect(pool.acquire('cntr_a', '1g')).rejects.toThrow('image not found');
    expect(pool.get('cntr_a')).toBeUndefined();
    const live = await pool.acquire('cntr_a', '1g');
    expect(live.sandbox.session.alive).toBe(true);
  });

  it('retries a failed warm refill two seconds later', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const { driver, pool } = started(1);
      driver.failNextCreate();
      pool.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(1999);
      expect(driver.createCalls).toHaveLength(1);
      expect(warmIds(pool)).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(driver.createCalls).toHaveLength(2);
      jest.useRealTimers();
      await filled(pool, 1);
    } finally {
      jest.useRealTimers();
    }
  });

  describe('onModuleDestroy', () => {
    it('removes warm and live sandboxes', async () => {
      const { driver, pool } = started(2);
      pool.onApplicationBootstrap();
      await filled(pool, 2);
      await pool.acquire('cntr_a', '1g');
      await filled(pool, 2);
      await pool.onModuleDestroy();
      expect(driver.sandboxes).toHaveLength(3);
      expect(driver.running.map((s) => s.id)).toEqual([]);
      expect(pool.knownSandboxIds().size).toBe(0);
    });

    it('removes a warm sandbox whose create was in flight, and starts no more', async () => {
      const { driver, pool } = started(2);
      const release = driver.holdCreates();
      pool.onApplicationBootstrap();
      await eventually(() => driver.createCalls.length === 1, { intervalMs: 5 });
      const destroyed = pool.onModuleDestroy();
      release();
      await destroyed;
      expect(driver.sandboxes).toHaveLength(1);
      expect(driver.running.map((s) => s.id)).toEqual([]);
      expect(driver.createCalls).toHaveLength(1);
    });

    /** Shuts the pool down while an acquire's create is held, then lets the create finish. */
    async function destroyDuringStart() {
      const { driver, pool } = started(0);
      const release = driver.holdCreates();
      const acquiring = pool.acquire('cntr_a', '1g');
      acquiring.catch(() => undefined);
      await eventually(() => driver.createCalls.length === 1, { intervalMs: 5 });
      const destroyed = pool.onModuleDestroy();
      release();
      return { driver, acquiring, destroyed };
    }

    it('rejects an acquire whose start was in flight, and removes its sandbox', async () => {
      const { driver, acquiring, destroyed } = await destroyDuringStart();
      await expect(acquiring).rejects.toThrow(/shutting down/);
      await destroyed;
      expect(driver.running.map((s) => s.id)).toEqual([]);
    });

    // Shutdown waits for starts in flight: otherwise the process may exit before such a start
    // finishes and removes its sandbox, leaving a container behind until a reaper finds it.
    it('does not return before a sandbox whose start was in flight is removed', async () => {
      const { driver, destroyed } = await destroyDuringStart();
      await destroyed;
      expect(driver.sandboxes).toHaveLength(1);
      expect(driver.running.map((s) => s.id)).toEqual([]);
    });
  });

  // When raising a warm sandbox to the container's tier fails, the sandbox is neither in the warm
  // pool nor bound to the container: it must be removed there and then.
  it('removes a warm sandbox whose update to the container tier failed', async () => {
    const { driver, pool } = started(1);
    pool.onApplicationBootstrap();
    const [warmId] = await filled(pool, 1);
    driver.sandboxes.find((s) => s.id === warmId)!.updateError = new Error('container is restarting');
    await expect(pool.acquire('cntr_a', '4g')).rejects.toThrow('container is restarting');
    expect(pool.knownSandboxIds().has(warmId!)).toBe(false);
    expect(driver.removed).toContain(warmId);
  });
});
