import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS } from '@cibox/storage';
import {
  SHARED_SANDBOX_QUEUE,
  QueueProducers,
  liveWorkers,
  redisKeys,
  workerSandboxQueue,
  type SandboxJob,
} from '@cibox/queue';

/** The api's side of the sandbox queues: routes jobs to the worker that owns a container. */
@Injectable()
export class SandboxControl implements OnModuleDestroy {
  private readonly queues: QueueProducers;

  constructor(@Inject(REDIS) private readonly redis: Redis) {
    this.queues = new QueueProducers(redis);
  }

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
    await this.queues.get(queueName).add(job.name, job.data, {
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

  onModuleDestroy(): Promise<void> {
    return this.queues.close();
  }
}
