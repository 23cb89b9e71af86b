import { Logger } from '@nestjs/common';
import type { AppConfig } from '@cibox/config';
import { ACTIVE_CPU_SHARES, MEMORY_TIER_BYTES, WARM_CPU_SHARES, WORKER_LABEL } from '@cibox/sandbox';
import { FakeSandbox, FakeSandboxDriver, eventually } from '@cibox/testing';
import { SandboxPool, type PoolTake } from './sandbox-pool.service';

/** A pool of `warmPoolSize` to `warmPoolMax` (by default a fixed size) that starts `startConcurrency` sandboxes at once. */
function setup(warmPoolSize: number, { warmPoolMax = warmPoolSize, startConcurrency = 1 } = {}) {
  const driver = new FakeSandboxDriver();
  const config = { workerId: 'w-test', sandbox: { warmPoolSize, warmPoolMax, startConcurrency } } as AppConfig;
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

function started(...args: Parameters<typeof setup>) {
  const s = setup(...args);
  pools.push(s.pool);
  return s;
}

const WARM_SPEC = { memoryBytes: MEMORY_TIER_BYTES['1g'], cpuShares: WARM_CPU_SHARES, labels: { [WORKER_LABEL]: 'w-test' } };

describe('SandboxPool', () => {
  it('fills the warm pool to WARM_POOL_SIZE at bootstrap, at low CPU weight, and no further', async () => {
    const { driver, pool } = started(2);
    pool.onApplicationBootstrap();
    await filled(pool, 2);
    expect(driver.createCalls).toEqual([WARM_SPEC, WARM_SPEC]);
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

  it('starts a sandbox at the active CPU weight for a container that finds the pool empty, and raises it to its tier', async () => {
    const { driver, pool } = started(0);
    const live = await pool.acquire('cntr_a', '16g');
    expect(driver.createCalls).toEqual([{ ...WARM_SPEC, cpuShares: ACTIVE_CPU_SHARES }]);
    expect((live.sandbox as FakeSandbox).updates).toEqual([{ memoryBytes: MEMORY_TIER_BYTES['16g'], cpuShares: ACTIVE_CPU_SHARES }]);
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

  describe('sized by demand', () => {
    it('grows with the sandboxes containers take, up to WARM_POOL_MAX', async () => {
      const { pool } = started(1, { warmPoolMax: 4, startConcurrency: 2 });
      pool.onApplicationBootstrap();
      await filled(pool, 1);
      for (const c of ['a', 'b', 'c']) await pool.acquire(`cntr_${c}`, '1g');
      expect(pool.warmTarget()).toBe(3);
      await filled(pool, 3);
      for (const c of ['d', 'e', 'f', 'g', 'h']) await pool.acquire(`cntr_${c}`, '1g');
      expect(pool.warmTarget()).toBe(4);
      await filled(pool, 4);
    });

    it('shrinks back to WARM_POOL_SIZE once takes stop, removing the longest idle first', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      try {
        const { driver, pool } = started(1, { warmPoolMax: 4, startConcurrency: 2 });
        pool.onApplicationBootstrap();
        await jest.advanceTimersByTimeAsync(1);
        for (const c of ['a', 'b', 'c', 'd']) await pool.acquire(`cntr_${c}`, '1g');
        await jest.advanceTimersByTimeAsync(1);
        const grown = warmIds(pool);
        expect(grown).toHaveLength(4);
        const creates = driver.createCalls.length;
        // The count of 4 takes falls by e every 30 s: a target of 3 at the first tick (10 s), 1 from 30 s.
        await jest.advanceTimersByTimeAsync(10_000);
        expect(warmIds(pool)).toEqual(grown.slice(1));
        expect(driver.removed).toEqual([grown[0]]);
        await jest.advanceTimersByTimeAsync(30_000);
        expect(warmIds(pool)).toEqual(grown.slice(3));
        expect(driver.removed).toEqual(grown.slice(0, 3));
        expect(driver.createCalls).toHaveLength(creates); // and nothing started to replace them
      } finally {
        jest.useRealTimers();
      }
    });

    it('starts at most SANDBOX_START_CONCURRENCY sandboxes at once', async () => {
      const { driver, pool } = started(4, { startConcurrency: 2 });
      const release = driver.holdCreates();
      pool.onApplicationBootstrap();
      await eventually(() => driver.createCalls.length === 2, { intervalMs: 5 });
      pool.onApplicationBootstrap(); // a refill while two are starting starts nothing more
      expect(driver.createCalls).toHaveLength(2);
      release();
      await filled(pool, 4);
      expect(driver.createCalls).toHaveLength(4);
    });

    // Refills start at a low CPU weight: on a busy machine they take seconds, too long to wait for.
    it('starts one more, at the active weight, for a container waiting while the pool\'s starts are all under way', async () => {
      const { driver, pool } = started(2, { startConcurrency: 2 });
      const release = driver.holdCreates();
      pool.onApplicationBootstrap();
      await eventually(() => driver.createCalls.length === 2, { intervalMs: 5 });
      const waiting = [pool.acquire('cntr_a', '1g'), pool.acquire('cntr_b', '1g'), pool.acquire('cntr_c', '1g')];
      expect(driver.createCalls.map((c) => c.cpuShares)).toEqual([WARM_CPU_SHARES, WARM_CPU_SHARES, ACTIVE_CPU_SHARES, ACTIVE_CPU_SHARES]);
      release();
      await Promise.all(waiting);
      await filled(pool, 2);
    });

    it('gives the next sandbox started to a container waiting for one before the pool', async () => {
      const { driver, pool } = started(2);
      const release = driver.holdCreates();
      pool.onApplicationBootstrap();
      await eventually(() => driver.createCalls.length === 1, { intervalMs: 5 });
      const waiting = pool.acquire('cntr_a', '1g');
      release();
      const live = await waiting;
      expect(live.sandbox.id).toBe(driver.sandboxes[0]!.id);
      expect(await filled(pool, 2)).not.toContain(live.sandbox.id);
    });

    it('reports each take: a hit from the pool, a miss when the container waited for a start', async () => {
      const { driver, pool } = started(1);
      const takes: PoolTake[] = [];
      pool.onTake((take) => takes.push(take));
      pool.onApplicationBootstrap();
      await filled(pool, 1);
      const release = driver.holdCreates(); // holds the refill the first take starts
      await pool.acquire('cntr_a', '1g');
      const waiting = pool.acquire('cntr_b', '1g');
      expect(takes).toEqual(['hit', 'miss']);
      release();
      await waiting;
      expect(takes).toEqual(['hit', 'miss']);
    });
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

    it('rejects a container waiting for a start at once, and an acquire after it began without a start', async () => {
      const { driver, pool } = started(0);
      const release = driver.holdCreates();
      const waiting = pool.acquire('cntr_a', '1g');
      await eventually(() => driver.createCalls.length === 1, { intervalMs: 5 });
      const destroyed = pool.onModuleDestroy();
      await expect(waiting).rejects.toThrow(/shutting down/); // before its start ends
      await expect(pool.acquire('cntr_b', '1g')).rejects.toThrow(/shutting down/);
      expect(driver.createCalls).toHaveLength(1);
      release();
      await destroyed;
      expect(driver.sandboxes).toHaveLength(1);
      expect(driver.running).toEqual([]);
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
