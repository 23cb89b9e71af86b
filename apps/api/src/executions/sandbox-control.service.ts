import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { REDIS } from '@cibox/storage';
import {
  SHARED_SANDBOX_QUEUE,
  liveWorkers,
  redisKeys,
  workerSandboxQueue,
  type SandboxJob,
} from '@cibox/queue';

/** The api's side of the sandbox queues: routes jobs to the worker that owns a container. */
@Injectable()
export class SandboxControl implements OnModuleDestroy {
  private readonly queues = new Map<string, Queue>();

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** The queue that should run the container's next job: its live owner's, else the shared one. */
  async queueFor(containerId: string): Promise<string> {
    // One round trip: the owner, if its heartbeat is alive.
    const owner = (await this.redis.eval(
      "local o = redis.call('get', KEYS[1]) if o and redis.call('exists', ARGV[1] .. o) == 1 then return o end return false",
      1,
      redisKeys.containerOwner(containerId),
      redisKeys.workerHeartbeat(''),
    )) as string | null;
    return owner ? workerSandboxQueue(owner) : SHARED_SANDBOX_QUEUE;
  }

  async enqueue(queueName: string, job: SandboxJob, jobId?: string): Promise<void> {
    await this.queue(queueName).add(job.name, job.data, {
      jobId,
      removeOnComplete: true,
      removeOnFail: 1000,
    });
  }

  /** Asks the owning worker, if any is alive, to remove the container's sandbox. */
  async destroy(containerId: string): Promise<void> {
    const owner = await this.redis.get(redisKeys.containerOwner(containerId));
    if (!owner) return;
    if (await this.redis.exists(redisKeys.workerHeartbeat(owner))) {
      await this.enqueue(workerSandboxQueue(owner), { name: 'destroy', data: { containerId } });
    }
    // A dead owner's sandboxes are removed by its reaper when it comes back.
  }

  async workersAlive(): Promise<number> {
    return (await liveWorkers(this.redis)).length;
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis.duplicate({ maxRetriesPerRequest: null }) });
      this.queues.set(name, q);
    }
    return q;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
