import { Logger } from '@nestjs/common';
import type { AppConfig } from '@cibox/config';
import type { QueueProducers } from '@cibox/queue';
import { ACTIVE_CPU_SHARES, WORKER_LABEL } from '@cibox/sandbox';
import type { ContainerRepository, WorkerRegistry } from '@cibox/storage';
import { FakeSandbox, FakeSandboxDriver } from '@cibox/testing';
import type { ExecutionService } from './execution.service';
import { ReaperService } from './reaper.service';
import { SandboxPool } from './sandbox-pool.service';

beforeAll(() => Logger.overrideLogger(false));

/** The orphan sweep over what one engine holds: every worker driving that engine sees the same list. */
describe('ReaperService: sandboxes left on its engine', () => {
  const config = { workerId: 'w-me', sandbox: { warmPoolSize: 0, warmPoolMax: 0, startConcurrency: 1 }, reaperIntervalMs: 60_000 } as AppConfig;
  const alive = new Set(['w-me', 'w-neighbour']);
  // Every container this worker holds is live: this sweep is about Docker's side only.
  const containers = { getAny: (id: string) => Promise.resolve({ id, expired: false, last_active_at: Math.floor(Date.now() / 1000), expires_minutes: 20 }) } as unknown as ContainerRepository;
  const registry = {
    dead: () => Promise.resolve([]),
    isAlive: (w: string) => Promise.resolve(alive.has(w)),
    containersOf: () => Promise.resolve([]),
    owner: () => Promise.resolve('w-me'),
  } as unknown as WorkerRegistry;

  function setup() {
    const driver = new FakeSandboxDriver();
    const pool = new SandboxPool(config, driver);
    const reaper = new ReaperService(config, driver, pool, containers, {} as ExecutionService, registry, {} as QueueProducers);
    const sandboxOf = async (worker: string, ageS = 0) => {
      const s = await driver.create({ memoryBytes: 1, cpuShares: ACTIVE_CPU_SHARES, labels: { [WORKER_LABEL]: worker } });
      s.createdAt -= ageS;
      return s.id;
    };
    return { driver, pool, reaper, sandboxOf };
  }

  it('keeps the sandboxes of another live worker that drives the same engine, however old', async () => {
    const { driver, reaper, sandboxOf } = setup();
    await sandboxOf('w-neighbour', 3600);
    await reaper.tick();
    expect(driver.removed).toEqual([]);
  });

  it('removes the sandboxes of a dead worker, and those of no worker', async () => {
    const { driver, reaper, sandboxOf } = setup();
    const dead = await sandboxOf('w-gone');
    const unlabelled = (await driver.create({ memoryBytes: 1, cpuShares: ACTIVE_CPU_SHARES, labels: {} })).id;
    await reaper.tick();
    expect(driver.removed.sort()).toEqual([dead, unlabelled].sort());
  });

  it('removes its own sandboxes it no longer knows (from before a restart) once they are too old to be starting', async () => {
    const { driver, pool, reaper, sandboxOf } = setup();
    const leftover = await sandboxOf('w-me', 120);
    await sandboxOf('w-me'); // young: may be one this worker is starting right now
    const held = (await pool.acquire('cntr_held', '1g')).sandbox as FakeSandbox;
    held.createdAt -= 120;
    await reaper.tick();
    expect(driver.removed).toEqual([leftover]);
    await pool.onModuleDestroy();
  });
});

/** The sweep of the containers placed on this worker: what ends their reservations when nobody deletes them. */
describe('ReaperService: reservations of containers nobody deletes', () => {
  const config = { workerId: 'w-me', sandbox: { warmPoolSize: 0, warmPoolMax: 0, startConcurrency: 1 }, reaperIntervalMs: 60_000 } as AppConfig;

  it('frees the place of a container that expired idle, without a sandbox and without any call to destroy it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const records = new Map([
      ['cntr_idle', { id: 'cntr_idle', expired: false, last_active_at: now - 3600, expires_minutes: 20 }],
      ['cntr_busy', { id: 'cntr_busy', expired: false, last_active_at: now, expires_minutes: 20 }],
    ]);
    const saved: string[] = [];
    const containers = {
      getAny: (id: string) => Promise.resolve(records.get(id) ?? null),
      save: (r: { id: string; expired: boolean }) => Promise.resolve(void saved.push(`${r.id}:${r.expired}`)),
    } as unknown as ContainerRepository;
    const released: string[] = [];
    const registry = {
      dead: () => Promise.resolve([]),
      isAlive: () => Promise.resolve(true),
      containersOf: () => Promise.resolve([...records.keys()]),
      release: (id: string, owner?: string) => Promise.resolve(void released.push(`${id}@${owner}`)),
    } as unknown as WorkerRegistry;
    const driver = new FakeSandboxDriver();
    const reaper = new ReaperService(config, driver, new SandboxPool(config, driver), containers, {} as ExecutionService, registry, {} as QueueProducers);
    await reaper.tick();
    expect(released).toEqual(['cntr_idle@w-me']);
    expect(saved).toEqual(['cntr_idle:true']);
  });

  it('keeps the place of a container still being created, however many sweeps pass, and frees it once its grace is over', async () => {
    const containers = { getAny: () => Promise.resolve(null) } as unknown as ContainerRepository;
    let placing = true;
    const released: string[] = [];
    const registry = {
      dead: () => Promise.resolve([]),
      isAlive: () => Promise.resolve(true),
      containersOf: () => Promise.resolve(['cntr_new']),
      placing: () => Promise.resolve(placing),
      release: (id: string) => Promise.resolve(void released.push(id)),
    } as unknown as WorkerRegistry;
    const driver = new FakeSandboxDriver();
    const reaper = new ReaperService(config, driver, new SandboxPool(config, driver), containers, {} as ExecutionService, registry, {} as QueueProducers);
    for (let i = 0; i < 3; i++) await reaper.tick();
    expect(released).toEqual([]);
    placing = false; // its mark lapsed: the creation failed without cleaning up
    await reaper.tick();
    expect(released).toEqual(['cntr_new']);
  });
});

/** The rescue of a worker found dead, which may only have stalled and come back. */
describe('ReaperService: rescuing a dead worker', () => {
  const config = { workerId: 'w-me', sandbox: { warmPoolSize: 0, warmPoolMax: 0, startConcurrency: 1 }, reaperIntervalMs: 60_000 } as AppConfig;
  const liveRecord = (id: string) => Promise.resolve({ id, expired: false, last_active_at: Math.floor(Date.now() / 1000), expires_minutes: 20 });

  function setup(opts: { comesBack: 'before-forget' | 'never'; left?: number }) {
    const calls: string[] = [];
    const registry = {
      dead: () => Promise.resolve(['w-stalled']),
      lockRescue: () => Promise.resolve(true),
      forget: (w: string) => Promise.resolve(void calls.push(`forget ${w}`)).then(() => opts.comesBack === 'never'),
      isAlive: () => Promise.resolve(opts.comesBack !== 'never'),
      drop: (w: string) => Promise.resolve(void calls.push(`drop ${w}`)).then(() => true),
      containersOf: () => Promise.resolve([]),
    } as unknown as WorkerRegistry;
    const queue = {
      name: 'sandbox-w-stalled',
      getJobs: () => Promise.resolve([{ name: 'execute', data: { executionId: 'exec_1' }, remove: () => Promise.resolve(void calls.push('remove exec_1')) }]),
      getJobCounts: () => Promise.resolve({ waiting: opts.left ?? 0, active: 0 }),
      obliterate: () => Promise.resolve(void calls.push('obliterate')),
    };
    const queues = {
      get: () => queue,
      moveWaiting: () => Promise.resolve(void calls.push('move')).then(() => 2),
    } as unknown as QueueProducers;
    const executions = { failLost: (job: { executionId: string }) => Promise.resolve(void calls.push(`fail ${job.executionId}`)) } as unknown as ExecutionService;
    const driver = new FakeSandboxDriver();
    const containers = { getAny: liveRecord } as unknown as ContainerRepository;
    const reaper = new ReaperService(config, driver, new SandboxPool(config, driver), containers, executions, registry, queues);
    return { reaper, calls };
  }

  it('leaves alone a worker that beat again before it was forgotten: its executions, its queue', async () => {
    const { reaper, calls } = setup({ comesBack: 'before-forget' });
    await reaper.tick();
    expect(calls).toEqual(['forget w-stalled']);
  });

  it('forgets first, then fails its running executions and moves its jobs; never destroys its queue', async () => {
    const { reaper, calls } = setup({ comesBack: 'never' });
    await reaper.tick();
    expect(calls).toEqual(['forget w-stalled', 'fail exec_1', 'remove exec_1', 'move', 'drop w-stalled']);
  });

  it('keeps listing a worker whose queue still holds jobs, for the next rescue to move them', async () => {
    const { reaper, calls } = setup({ comesBack: 'never', left: 1 });
    await reaper.tick();
    expect(calls).not.toContain('drop w-stalled');
    expect(calls).not.toContain('obliterate');
  });

  it('discards the sandboxes of containers that another worker owns now', async () => {
    const driver = new FakeSandboxDriver();
    const pool = new SandboxPool(config, driver);
    const owners: Record<string, string> = { cntr_moved: 'w-other', cntr_mine: 'w-me' };
    const registry = {
      dead: () => Promise.resolve([]),
      isAlive: () => Promise.resolve(true),
      containersOf: () => Promise.resolve(['cntr_mine']),
      owner: (id: string) => Promise.resolve(owners[id] ?? null),
    } as unknown as WorkerRegistry;
    const containers = { getAny: liveRecord } as unknown as ContainerRepository;
    const reaper = new ReaperService(config, driver, pool, containers, {} as ExecutionService, registry, {} as QueueProducers);
    const moved = (await pool.acquire('cntr_moved', '1g')).sandbox.id;
    await pool.acquire('cntr_mine', '1g');
    await reaper.tick();
    expect(pool.liveContainerIds()).toEqual(['cntr_mine']);
    expect(driver.removed).toEqual([moved]);
    await pool.onModuleDestroy();
  });
});
