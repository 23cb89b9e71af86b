import { Injectable } from '@nestjs/common';
import { WorkerRegistry } from '@cibox/storage';
import { QueueProducers, SHARED_SANDBOX_QUEUE, workerSandboxQueue, type SandboxJob } from '@cibox/queue';

/** The api's side of the sandbox queues: routes jobs to the worker that owns a container. */
@Injectable()
export class SandboxControl {
  constructor(
    // One connection for every queue this api produces to, however many workers come and go.
    private readonly queues: QueueProducers,
    private readonly registry: WorkerRegistry,
  ) {}

  /** The queue that should run the container's next job: its live owner's, else the shared one. */
  async queueFor(containerId: string): Promise<string> {
    const owner = await this.registry.liveOwner(containerId);
    return owner ? workerSandboxQueue(owner) : SHARED_SANDBOX_QUEUE;
  }

  enqueue(queueName: string, job: SandboxJob, jobId?: string): Promise<void> {
    return this.queues.add(queueName, job, jobId);
  }

  /** Asks the owning worker, if any is alive, to remove the container's sandbox. */
  async destroy(containerId: string): Promise<void> {
    // A dead owner's sandboxes are removed by its reaper when it comes back, or by another's.
    const owner = await this.registry.liveOwner(containerId);
    if (owner) await this.enqueue(workerSandboxQueue(owner), { name: 'destroy', data: { containerId } });
  }

  async workersAlive(): Promise<number> {
    return (await this.registry.alive()).length;
  }
}
