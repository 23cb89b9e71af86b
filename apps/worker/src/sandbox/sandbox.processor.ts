import { Inject, Injectable, type Provider, type Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WorkerRegistry } from '@cibox/storage';
import { QueueProcessor, QueueProducers, SHARED_SANDBOX_QUEUE, logFieldsOf, workerSandboxQueue, type ExecuteJobData, type SandboxJob } from '@cibox/queue';
import { ExecutionService } from './execution.service';
import { SandboxPool } from './sandbox-pool.service';

/**
 * Runs the jobs of one sandbox queue: the shared one or this worker's own. An execution runs here
 * only if this worker owns its container; any other moves to its owner's queue. A job in the shared
 * queue is for a container that had no worker when it was queued: it is placed now (perhaps here).
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
        // Checked for jobs of this worker's own queue too: one may have been queued there just as the
        // container moved (this worker handed it over while draining, or a worker of this id stopped).
        const { data } = sandboxJob;
        const owner = await this.ownerFor(data);
        if (owner === this.config.workerId && (await this.executions.run(data))) return;
        // Not run: another worker's container, or one this worker handed over while the job waited.
        return this.forward(owner === this.config.workerId ? await this.ownerFor(data) : owner, data, job.id);
      }
      case 'destroy':
        await this.pool.discard(sandboxJob.data.containerId);
        return;
    }
  }

  /** Stops taking jobs, and waits for those it runs. */
  close(): Promise<void> {
    return this.worker.close();
  }

  private ownerFor(data: ExecuteJobData): Promise<string | null> {
    return this.registry.ownerFor(data.containerId, () => data.memoryLimit);
  }

  /** To the owner's queue; to the shared one when no worker can take the container now. */
  private async forward(owner: string | null, data: ExecuteJobData, jobId?: string): Promise<void> {
    const queue = owner ? workerSandboxQueue(owner) : SHARED_SANDBOX_QUEUE;
    await this.queues.add(queue, { name: 'execute', data }, jobId ? `${jobId}-fwd` : undefined);
  }
}

/** The processor of the shared sandbox queue, and that of this worker's own (for the drain, which stops them one after the other). */
export const SHARED_QUEUE_PROCESSOR = Symbol('SHARED_QUEUE_PROCESSOR');
export const OWN_QUEUE_PROCESSOR = Symbol('OWN_QUEUE_PROCESSOR');

/**
 * The processors of this worker's two sandbox queues. `@Processor` binds a queue to a class, and
 * this worker's own queue is named after its id, chosen at start: so the classes are made here,
 * once the config is known, with its concurrency and lock (a dead worker's active job is taken back
 * this long after its last lock renewal). Also provided under the two tokens above.
 */
export function sandboxProcessors(config: AppConfig): Provider[] {
  const options = { concurrency: config.workerConcurrency, lockDuration: config.queueLockMs, stalledInterval: config.queueLockMs, autorun: false };

  @Processor(SHARED_SANDBOX_QUEUE, options)
  class SharedQueueProcessor extends SandboxProcessor {}

  @Processor(workerSandboxQueue(config.workerId), options)
  class OwnQueueProcessor extends SandboxProcessor {}

  const classes: Type<SandboxProcessor>[] = [SharedQueueProcessor, OwnQueueProcessor];
  return [
    ...classes,
    { provide: SHARED_QUEUE_PROCESSOR, useExisting: SharedQueueProcessor },
    { provide: OWN_QUEUE_PROCESSOR, useExisting: OwnQueueProcessor },
  ];
}
