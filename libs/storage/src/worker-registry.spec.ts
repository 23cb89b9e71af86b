import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type ManagedProcess } from '@cibox/testing';
import { stateKeys } from './state-keys';
import { WORKER_HEARTBEAT_TTL_MS, WorkerRegistry, type WorkerCapacity } from './worker-registry';

const GiB = 1024 ** 3;

/** The placement scripts' choices, against a Redis of this file's own (the scripts are Lua). */
describe('WorkerRegistry placement', () => {
  let server: ManagedProcess;
  let redis: Redis;
  let reg: WorkerRegistry;

  beforeAll(async () => {
    const started = await startRedis({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'cibox-registry-')) });
    server = started.process;
    redis = new Redis(started.url);
    reg = new WorkerRegistry(redis);
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });
  beforeEach(() => redis.flushall());

  const caps = (maxContainers: number, maxMemoryBytes: number | null = null, draining = false): WorkerCapacity => ({ maxContainers, maxMemoryBytes, draining });
  const serverMs = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  const killed = async (workerId: string) => redis.zadd(stateKeys.workers, (await serverMs()) - WORKER_HEARTBEAT_TTL_MS - 1000, workerId);
  /** Runs `fn` in a process whose clock is `offsetMs` off Redis's. */
  const skewed = async <T>(offsetMs: number, fn: () => Promise<T>): Promise<T> => {
    const real = Date.now.bind(Date);
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => real() + offsetMs);
    try {
      return await fn();
    } finally {
      spy.mockRestore();
    }
  };
  const placeAll = async (n: number) => {
    const owners: (string | null)[] = [];
    for (let i = 0; i < n; i++) owners.push((await reg.place(`cntr_${i}`, '1g', { force: false })).worker);
    return owners;
  };

  it('places each container on the worker with the most room left, as a share of its caps', async () => {
    await reg.beat('small', caps(2));
    await reg.beat('large', caps(5));
    // Loads once placed: small 1/2 against large 1/5, 2/5, then 3/5 against 1/2...
    expect(await placeAll(5)).toEqual(['large', 'large', 'small', 'large', 'large']);
    await placeAll(7); // two more (cntr_5, cntr_6) fill both; the first five are placed already
    expect(await reg.load('small')).toEqual({ containers: 2, memoryBytes: 2 * GiB });
    expect(await reg.load('large')).toEqual({ containers: 5, memoryBytes: 5 * GiB });
    expect(await reg.owner('cntr_0')).toBe('large');
  });

  it('refuses a new container when every worker is at a cap, writing nothing', async () => {
    await reg.beat('a', caps(1));
    await reg.beat('b', caps(1));
    await placeAll(2);
    expect(await reg.place('cntr_x', '1g', { force: false })).toEqual({ outcome: 'full', worker: null });
    expect(await reg.owner('cntr_x')).toBeNull();
    expect([await reg.load('a'), await reg.load('b')]).toEqual([
      { containers: 1, memoryBytes: GiB },
      { containers: 1, memoryBytes: GiB },
    ]);
  });

  it('counts memory by tier against WORKER_MAX_MEMORY; no memory cap counts containers only', async () => {
    await reg.beat('capped', caps(100, 8 * GiB));
    await reg.beat('uncapped', caps(100));
    // 16g does not fit in 8 GiB at all; 4g would leave the capped worker half full (load 0.5 > 0.01).
    expect((await reg.place('cntr_big', '16g', { force: false })).worker).toBe('uncapped');
    await reg.beat('uncapped', caps(1)); // now full
    expect((await reg.place('cntr_4g', '4g', { force: false })).worker).toBe('capped');
    expect((await reg.place('cntr_4g2', '4g', { force: false })).worker).toBe('capped');
    expect(await reg.load('capped')).toEqual({ containers: 2, memoryBytes: 8 * GiB });
    expect((await reg.place('cntr_1g', '1g', { force: false })).outcome).toBe('full');
  });

  it('skips draining and dead workers; with none left it says so', async () => {
    await reg.beat('leaving', caps(10, null, true));
    await reg.beat('gone', caps(10));
    await killed('gone');
    expect(await reg.place('cntr_1', '1g', { force: false })).toEqual({ outcome: 'none', worker: null });
    await reg.beat('busy', caps(100));
    await reg.place('cntr_0', '1g', { force: false });
    await reg.beat('idle', caps(100));
    expect(await reg.place('cntr_1', '1g', { force: false })).toEqual({ outcome: 'placed', worker: 'idle' });
  });

  it('keeps a container with its live owner, even a draining one, until it is released', async () => {
    await reg.beat('a', caps(10));
    expect(await reg.place('cntr_1', '1g', { force: false })).toEqual({ outcome: 'placed', worker: 'a' });
    await reg.beat('a', caps(10, null, true));
    await reg.beat('b', caps(10));
    expect(await reg.liveOwner('cntr_1')).toBe('a');
    expect(await reg.place('cntr_1', '1g', { force: false })).toEqual({ outcome: 'owner', worker: 'a' });
    expect(await reg.ownerFor('cntr_1', () => '1g')).toBe('a');
    // Handed over: only the owner it names may release it.
    expect(await reg.release('cntr_1', 'b')).toBe(false);
    expect(await reg.release('cntr_1', 'a')).toBe(true);
    expect(await reg.load('a')).toEqual({ containers: 0, memoryBytes: 0 });
    expect(await reg.ownerFor('cntr_1', () => '1g')).toBe('b');
  });

  it('re-places the container of a dead owner, moving its reservation, past a cap when it must', async () => {
    await reg.beat('old', caps(10));
    await reg.place('cntr_1', '4g', { force: false });
    await killed('old');
    await reg.beat('full', caps(1));
    await reg.place('cntr_other', '1g', { force: false });
    expect(await reg.liveOwner('cntr_1')).toBeNull();
    expect(await reg.place('cntr_1', '4g', { force: false })).toEqual({ outcome: 'full', worker: null });
    // An accepted container is never refused: it goes where there is least load, over the cap.
    expect(await reg.place('cntr_1', '4g', { force: true })).toEqual({ outcome: 'over', worker: 'full' });
    expect(await reg.load('full')).toEqual({ containers: 2, memoryBytes: 5 * GiB });
    expect(await reg.load('old')).toEqual({ containers: 0, memoryBytes: 0 });
  });

  it('frees a deleted container\'s place whoever owns it', async () => {
    await reg.beat('a', caps(1));
    await reg.place('cntr_1', '1g', { force: false });
    expect((await reg.place('cntr_2', '1g', { force: false })).outcome).toBe('full');
    expect(await reg.release('cntr_1')).toBe(true);
    expect(await reg.release('cntr_1')).toBe(false);
    expect(await reg.place('cntr_2', '1g', { force: false })).toEqual({ outcome: 'placed', worker: 'a' });
  });

  it('judges liveness on Redis\'s clock, whatever the clocks of the worker and the reader say', async () => {
    await skewed(-60_000, () => reg.beat('behind', caps(10))); // its machine's clock is a minute slow
    await reg.beat('on-time', caps(10));
    for (const offset of [0, 60_000, -60_000]) {
      await skewed(offset, async () => {
        expect((await reg.alive()).sort()).toEqual(['behind', 'on-time']);
        expect(await reg.dead()).toEqual([]);
        expect(await reg.isAlive('behind')).toBe(true);
        expect(await reg.forget('behind')).toBe(false);
      });
    }
    await skewed(60_000, () => reg.place('cntr_1', '1g', { force: false }));
    await reg.beat('on-time', caps(10, null, true));
    expect(await skewed(-60_000, () => reg.place('cntr_2', '1g', { force: false }))).toEqual({ outcome: 'placed', worker: 'behind' });
    expect(await skewed(60_000, () => reg.liveOwner('cntr_2'))).toBe('behind');
  });

  it('marks a new placement as being created, with a ttl, until its record is stored', async () => {
    await reg.beat('a', caps(10));
    await reg.place('cntr_1', '1g', { force: false });
    expect(await reg.placing('cntr_1')).toBe(true);
    expect(await redis.ttl(stateKeys.containerPlacing('cntr_1'))).toBeGreaterThan(60);
    await reg.stored('cntr_1');
    expect(await reg.placing('cntr_1')).toBe(false);
    expect(await reg.place('cntr_1', '1g', { force: false })).toEqual({ outcome: 'owner', worker: 'a' });
    expect(await reg.placing('cntr_1')).toBe(false);
  });

  it('forgets a dead worker: its caps, reservations and containers; not one that beat again', async () => {
    await reg.beat('dead', caps(10));
    await reg.place('cntr_1', '1g', { force: false });
    await reg.place('cntr_2', '1g', { force: false });
    expect(await reg.forget('dead')).toBe(false); // alive
    expect(await reg.drop('dead')).toBe(false);
    await killed('dead');
    expect(await reg.dead()).toEqual(['dead']);
    expect(await reg.forget('dead')).toBe(true);
    expect([await reg.owner('cntr_1'), await reg.owner('cntr_2')]).toEqual([null, null]);
    expect(await reg.containersOf('dead')).toEqual([]);
    expect(await redis.exists(stateKeys.worker('dead'))).toBe(0);
    // Listed until its queue is found empty, so a job queued to it late is still moved.
    expect(await reg.dead()).toEqual(['dead']);
    expect(await reg.drop('dead')).toBe(true);
    expect(await reg.dead()).toEqual([]);
    expect(await reg.forget('dead')).toBe(false); // not listed any more
  });

  it('tells a forgotten worker that comes back, once', async () => {
    expect(await reg.beat('stalled', caps(10))).toEqual({ forgotten: false });
    await killed('stalled');
    expect(await reg.forget('stalled')).toBe(true);
    expect(await reg.beat('stalled', caps(10))).toEqual({ forgotten: true });
    expect(await reg.beat('stalled', caps(10))).toEqual({ forgotten: false });
    expect(await reg.alive()).toEqual(['stalled']);
  });
});
