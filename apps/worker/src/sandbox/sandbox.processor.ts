import { Inject, Injectable, type Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WorkerRegistry } from '@cibox/storage';
import { QueueProcessor, QueueProducers, SHARED_SANDBOX_QUEUE, logFieldsOf, workerSandboxQueue, type ExecuteJobData, type SandboxJob } from '@cibox/queue';
import { ExecutionService } from './execution.service';
import { SandboxPool } from './sandbox-pool.service';

/**
 * Runs the jobs of one sandbox queue: the shared one or this worker's own. A job from the shared
 * queue is for a container with no live owner: this worker claims it (a container lives on one
 * worker), unless another live worker got there first, in which case the job moves to that
 * worker's queue.
 */
@Injectable()
export abstract class SandboxProcessor extends QueueProcessor {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly executions: ExecutionService,
    private readonly pool: SandboxPool,
    private readonly registry: WorkerRegistry,
    private readonly queues: QueueProducers,
  ) {
    super();
  }

  override process(job: Job<SandboxJob['data'], void, SandboxJob['name']>): Promise<void> {
    const sandboxJob = { name: job.name, data: job.data } as SandboxJob;
    // Every line about the job names this worker, the container, and for an execution its tenant, id
    // and where it came from (the api request, the response).
    return this.logContext.run({ workerId: this.config.workerId, ...logFieldsOf(sandboxJob.data) }, () => this.run(job, sandboxJob));
  }

  private async run(job: Job, sandboxJob: SandboxJob): Promise<void> {
    switch (sandboxJob.name) {
      case 'execute': {
        // A job on this worker's own queue was routed here because this worker owns the container.
        const fromShared = job.queueName === SHARED_SANDBOX_QUEUE;
        const owner = fromShared ? await this.registry.claim(sandboxJob.data.containerId, this.config.workerId) : this.config.workerId;
        if (owner !== this.config.workerId) return this.forward(owner, sandboxJob.data, job.id);
        await this.executions.run(sandboxJob.data);
        return;
      }
      case 'destroy':
        await this.pool.discard(sandboxJob.data.containerId);
        await this.registry.release(sandboxJob.data.containerId);
        return;
    }
  }

  private async forward(owner: string, data: ExecuteJobData, jobId?: string): Promise<void> {
    await this.queues.add(workerSandboxQueue(owner), { name: 'execute', data }, jobId ? `${jobId}-fwd` : undefined);
  }
}

/**
 * The processors of this worker's two sandbox queues. `@Processor` binds a queue to a class, and
 * this worker's own queue is named after its id, chosen at start: so the classes are made here,
 * once the config is known, with its concurrency and lock (a dead worker's active job is taken back
 * this long after its last lock renewal).
 */
export function sandboxProcessors(config: AppConfig): Type<SandboxProcessor>[] {
  const options = { concurrency: config.workerConcurrency, lockDuration: config.queueLockMs, stalledInterval: config.queueLockMs, autorun: false };

  @Processor(SHARED_SANDBOX_QUEUE, options)
  class SharedQueueProcessor extends SandboxProcessor {}

  @Processor(workerSandboxQueue(config.workerId), options)
  class OwnQueueProcessor extends SandboxProcessor {}

  return [SharedQueueProcessor, OwnQueueProcessor];
}
