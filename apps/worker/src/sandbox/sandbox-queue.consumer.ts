import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { REDIS, WorkerRegistry } from '@cibox/storage';
import { QueueProducers, SHARED_SANDBOX_QUEUE, workerSandboxQueue, type ExecuteJobData, type SandboxJob } from '@cibox/queue';
import { ExecutionService } from './execution.service';
import { SandboxPool } from './sandbox-pool.service';

/**
 * Consumes the shared sandbox queue and this worker's own. A job from the shared queue is for a
 * container with no live owner: this worker claims it (a container lives on one worker), unless
 * another live worker got there first, in which case the job moves to that worker's queue.
 */
@Injectable()
export class SandboxQueueConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SandboxQueueConsumer.name);
  private readonly workers: Worker[] = [];
  private readonly forwardQueues: QueueProducers;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly executions: ExecutionService,
    private readonly pool: SandboxPool,
    private readonly registry: WorkerRegistry,
  ) {
    this.forwardQueues = new QueueProducers(redis.duplicate());
  }

  onApplicationBootstrap(): void {
    for (const name of [SHARED_SANDBOX_QUEUE, workerSandboxQueue(this.config.workerId)]) {
      const shared = name === SHARED_SANDBOX_QUEUE;
      const worker = new Worker(name, (job: Job<SandboxJob['data']>) => this.handle({ name: job.name, data: job.data } as SandboxJob, shared, job.id), {
        connection: this.redis.duplicate({ maxRetriesPerRequest: null }),
        concurrency: this.config.workerConcurrency,
        // A dead worker's active job is taken back this long after its last lock renewal.
        lockDuration: this.config.queueLockMs,
        stalledInterval: this.config.queueLockMs,
      });
      worker.on('error', (err) => this.logger.error(`queue ${name}: ${err.message}`));
      this.workers.push(worker);
    }
  }

  private async handle(job: SandboxJob, fromShared: boolean, jobId?: string): Promise<void> {
    switch (job.name) {
      case 'execute': {
        // A job on this worker's own queue was routed here because this worker owns the container.
        const owner = fromShared ? await this.registry.claim(job.data.containerId, this.config.workerId) : this.config.workerId;
        if (owner !== this.config.workerId) return this.forward(owner, job.data, jobId);
        await this.executions.run(job.data);
        return;
      }
      case 'destroy':
        await this.pool.discard(job.data.containerId);
        await this.registry.release(job.data.containerId);
        return;
    }
  }

  private async forward(owner: string, data: ExecuteJobData, jobId?: string): Promise<void> {
    await this.forwardQueues.add(workerSandboxQueue(owner), { name: 'execute', data }, jobId ? `${jobId}-fwd` : undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await this.forwardQueues.close();
  }
}
