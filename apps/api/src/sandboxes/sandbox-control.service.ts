import { Injectable, Logger } from '@nestjs/common';
import { CapacityError, type MemoryLimit } from '@cibox/contracts';
import { WorkerRegistry } from '@cibox/storage';
import { QueueProducers, SHARED_SANDBOX_QUEUE, workerSandboxQueue, type SandboxJob } from '@cibox/queue';

/** The api's side of the sandbox queues: places containers on workers and routes jobs to their owner. */
@Injectable()
export class SandboxControl {
  private readonly logger = new Logger(SandboxControl.name);

  constructor(
    // One connection for every queue this api produces to, however many workers come and go.
    private readonly queues: QueueProducers,
    private readonly registry: WorkerRegistry,
  ) {}

  /**
   * Places a new container on the live worker with the most room left; throws CapacityError when
   * every worker is full. With no worker alive at all, the container is accepted unplaced: its first
   * job waits in the shared queue and is placed by the worker that takes it (as during a restart).
   */
  async place(containerId: string, memoryLimit: MemoryLimit): Promise<void> {
    const placement = await this.registry.place(containerId, memoryLimit, { force: false });
    if (placement.outcome === 'full') {
      this.logger.warn(`refused a container with memory_limit ${memoryLimit}: every live worker is at capacity`);
      throw new CapacityError(memoryLimit);
    }
  }

  /** The placed container's record is stored: from now on its worker's reaper may free its place if it goes. */
  stored(containerId: string): Promise<void> {
    return this.registry.stored(containerId);
  }

  /**
   * The queue that should run the container's next job: its live owner's, or the one of the worker
   * it is placed on now (its owner died or handed it over); the shared one when no worker can take it.
   */
  async queueFor(containerId: string, container: PromiseLike<{ memory_limit: MemoryLimit }>): Promise<string> {
    const owner = await this.registry.ownerFor(containerId, async () => (await container).memory_limit);
    return owner ? workerSandboxQueue(owner) : SHARED_SANDBOX_QUEUE;
  }

  enqueue(queueName: string, job: SandboxJob, jobId?: string): Promise<void> {
    return this.queues.add(queueName, job, jobId);
  }

  /** Frees the container's place on its worker, and asks the worker, if alive, to remove its sandbox. */
  async destroy(containerId: string): Promise<void> {
    // A dead owner's sandboxes are removed by its reaper when it comes back, or by another's.
    const owner = await this.registry.liveOwner(containerId);
    await this.registry.release(containerId);
    if (owner) await this.enqueue(workerSandboxQueue(owner), { name: 'destroy', data: { containerId } });
  }

  async workersAlive(): Promise<number> {
    return (await this.registry.alive()).length;
  }
}
