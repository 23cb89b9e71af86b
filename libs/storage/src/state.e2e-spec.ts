import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ExecutionObject } from '@cibox/contracts';
import { executionObject } from '@cibox/queue';
import { ExecutionRepository, type StoredExecution } from './execution.repository';
import { WorkerRegistry } from './worker-registry';
import { ContainerRepository, type ContainerRecord } from './repositories';

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
    it('tells whether a container\'s variables survived: the sandbox it last ran in', async () => {
      const reg = new WorkerRegistry(redis);
      const c = `cntr_${randomBytes(4).toString('hex')}`;
      expect(await reg.bindSandbox(c, 'sb1')).toBeNull();
      expect(await reg.bindSandbox(c, 'sb1')).toBe('sb1');
      expect(await reg.bindSandbox(c, 'sb2')).toBe('sb1');
      expect(await reg.boundSandbox(c)).toBe('sb2');
    });
  });

  describe('ContainerRepository', () => {
    const container = (tenant: string, fields: Partial<ContainerRecord> = {}): ContainerRecord => ({
      id: `cntr_${randomBytes(6).toString('hex')}`,
      tenant,
      name: 'c',
      created_at: 1000,
      last_active_at: 1000,
      expires_minutes: 20,
      memory_limit: '1g',
      expired: false,
      ...fields,
    });

    it('counts live containers and inserts within a limit in one step, expired ones not counted', async () => {
      const repo = new ContainerRepository(redis);
      const tenant = `tn_${randomBytes(6).toString('hex')}`;
      const now = 1000 + 5 * 60;
      await repo.insert(container(tenant, { expired: true }));
      await repo.insert(container(tenant, { last_active_at: now - 20 * 60 }));
      expect(await repo.countLive(tenant, now)).toEqual({ live: 0, firstExpiryS: 0 });
      const first = container(tenant);
      expect(await repo.insertWithin(first, 2, now)).toEqual({ inserted: true, live: 1, firstExpiryS: 0 });
      expect(await repo.insertWithin(container(tenant, { last_active_at: now }), 2, now)).toEqual({ inserted: true, live: 2, firstExpiryS: 15 * 60 });
      const refused = container(tenant);
      expect(await repo.insertWithin(refused, 2, now)).toEqual({ inserted: false, live: 2, firstExpiryS: 15 * 60 });
      expect(await repo.get(tenant, refused.id)).toBeNull();
      expect(await repo.get(tenant, first.id)).toEqual(first);
      expect((await repo.list(tenant, { limit: 10, order: 'asc' })).data).toHaveLength(4);
      expect(await repo.countLive(`tn_other`, now)).toEqual({ live: 0, firstExpiryS: 0 });
    });

    it('never brings back a deleted container when a save of what was read before lands after the delete', async () => {
      const repo = new ContainerRepository(redis);
      const tenant = `tn_${randomBytes(6).toString('hex')}`;
      const c = container(tenant);
      await repo.insert(c);
      const read = (await repo.get(tenant, c.id))!;
      expect(await repo.save({ ...read, last_active_at: 2000 })).toBe(true);
      expect((await repo.get(tenant, c.id))?.last_active_at).toBe(2000);
      await repo.remove(read);
      expect(await repo.save({ ...read, expired: true })).toBe(false);
      expect(await repo.getAny(c.id)).toBeNull();
      expect(await redis.exists(`cibox:container:${c.id}`)).toBe(0);
    });
  });
});
