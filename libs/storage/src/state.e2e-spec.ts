import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ExecutionObject } from '@cibox/contracts';
import { executionObject } from '@cibox/queue';
import { ExecutionRepository, type StoredExecution } from './execution.repository';
import { WORKER_HEARTBEAT_TTL_MS, WorkerRegistry } from './worker-registry';
import { stateKeys } from './state-keys';

/** The Redis state scripts, against the suite's real Redis. */
describe('shared state in Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.CIBOX_REDIS_URL!);
  });
  afterAll(() => redis.quit());

  const record = (id: string, status: ExecutionObject['status'], stdout = ''): StoredExecution => ({
    tenant: 't',
    execution: executionObject({ executionId: id, containerId: 'cntr_x', createdAt: 1 }, { status, stdout }),
  });

  describe('ExecutionRepository', () => {
    const id = () => `exec_${randomBytes(6).toString('hex')}`;

    it('what finished first is what every later reader and writer sees', async () => {
      const repo = new ExecutionRepository(redis);
      const e = id();
      expect(await repo.placeholder(record(e, 'in_progress'))).toBe(true);
      expect(await repo.placeholder(record(e, 'in_progress'))).toBe(false);
      // The api gives up first; the worker's late result does not replace what the client was told.
      const told = await repo.finish(record(e, 'failed'));
      expect(told.execution.status).toBe('failed');
      const late = await repo.finish(record(e, 'completed', 'late'));
      expect(late.execution.status).toBe('failed');
      expect((await repo.get(e))!.execution.status).toBe('failed');
      // And a worker handed the job afterwards does not run it.
      expect(await repo.begin(record(e, 'in_progress'), 'w1')).toEqual({ start: 'finished' });
    });

    it('a placeholder never overwrites a result that landed first', async () => {
      const repo = new ExecutionRepository(redis);
      const e = id();
      await repo.finish(record(e, 'completed', 'done'));
      expect(await repo.placeholder(record(e, 'in_progress'))).toBe(false);
      expect((await repo.get(e))!.execution.stdout).toBe('done');
    });

    it('an execution starts once: a second start is refused, even before the placeholder lands', async () => {
      const repo = new ExecutionRepository(redis);
      const e = id();
      expect(await repo.begin(record(e, 'in_progress'), 'w1')).toEqual({ start: 'run', cancelRequested: false, previousSandbox: null });
      expect((await repo.get(e))!.execution.status).toBe('in_progress');
      expect(await repo.begin(record(e, 'in_progress'), 'w2')).toEqual({ start: 'started' });
    });

    it('begin reads the cancel mark in its step', async () => {
      const repo = new ExecutionRepository(redis);
      const e = id();
      await repo.requestCancel(e);
      expect(await repo.begin(record(e, 'in_progress'), 'w1')).toMatchObject({ start: 'run', cancelRequested: true });
    });

    it('begin binds the container to a running sandbox, as bindSandbox does, only when the execution runs', async () => {
      const repo = new ExecutionRepository(redis);
      const reg = new WorkerRegistry(redis);
      const withContainer = (e: string, c: string, status: ExecutionObject['status'] = 'in_progress'): StoredExecution => {
        const r = record(e, status);
        return { ...r, execution: { ...r.execution, container_id: c } };
      };
      const c = `cntr_${randomBytes(4).toString('hex')}`;
      expect(await repo.begin(withContainer(id(), c), 'w1', 'sb1')).toMatchObject({ start: 'run', previousSandbox: null });
      expect(await repo.begin(withContainer(id(), c), 'w1', 'sb1')).toMatchObject({ start: 'run', previousSandbox: 'sb1' });
      expect(await repo.begin(withContainer(id(), c), 'w1')).toMatchObject({ start: 'run', previousSandbox: null }); // no id: no binding
      expect(await reg.boundSandbox(c)).toBe('sb1');
      const ended = id();
      await repo.finish(withContainer(ended, c, 'completed'));
      expect(await repo.begin(withContainer(ended, c), 'w1', 'sb2')).toEqual({ start: 'finished' });
      expect(await reg.boundSandbox(c)).toBe('sb1');
      expect(await repo.begin(withContainer(id(), c), 'w2', 'sb2')).toMatchObject({ start: 'run', previousSandbox: 'sb1' });
      expect(await reg.boundSandbox(c)).toBe('sb2');
    });

    it('announces a stored result in the same step, and nothing when it was not stored', async () => {
      const repo = new ExecutionRepository(redis);
      const sub = redis.duplicate();
      const channel = `test:${randomBytes(4).toString('hex')}`;
      const heard: string[] = [];
      sub.on('message', (_c: string, m: string) => heard.push(m));
      await sub.subscribe(channel);
      const e = id();
      await repo.finish(record(e, 'completed'), { channel, message: 'first' });
      await repo.finish(record(e, 'failed'), { channel, message: 'second' });
      await repo.get(e); // a round trip after both publishes
      await sub.quit();
      expect(heard).toEqual(['first']);
    });
  });

  describe('WorkerRegistry', () => {
    it('routes to a live owner, and lets a worker take over a dead owner\'s container', async () => {
      const reg = new WorkerRegistry(redis);
      const [alive, dead, me] = ['alive', 'dead', 'me'].map((n) => `${n}-${randomBytes(4).toString('hex')}`) as [string, string, string];
      await reg.beat(alive);
      await redis.zadd(stateKeys.workers, Date.now() - WORKER_HEARTBEAT_TTL_MS - 1000, dead);
      const c1 = `cntr_${randomBytes(4).toString('hex')}`;
      const c2 = `cntr_${randomBytes(4).toString('hex')}`;
      expect(await reg.liveOwner(c1)).toBeNull();
      expect(await reg.claim(c1, alive)).toBe(alive);
      expect(await reg.liveOwner(c1)).toBe(alive);
      expect(await reg.claim(c1, me)).toBe(alive); // a live owner keeps its container
      expect(await reg.claim(c2, dead)).toBe(dead);
      expect(await reg.liveOwner(c2)).toBeNull(); // its owner is dead
      expect(await reg.claim(c2, me)).toBe(me);
      expect(await reg.owner(c2)).toBe(me);
      expect(await reg.dead()).toContain(dead);
      expect(await reg.alive()).toContain(alive);
      expect(await reg.alive()).not.toContain(dead);
      await reg.leave(dead);
      await reg.leave(alive);
    });

    it('tells whether a container\'s variables survived: the sandbox it last ran in', async () => {
      const reg = new WorkerRegistry(redis);
      const c = `cntr_${randomBytes(4).toString('hex')}`;
      expect(await reg.bindSandbox(c, 'sb1')).toBeNull();
      expect(await reg.bindSandbox(c, 'sb1')).toBe('sb1');
      expect(await reg.bindSandbox(c, 'sb2')).toBe('sb1');
      expect(await reg.boundSandbox(c)).toBe('sb2');
    });
  });
});
