import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { REDIS } from '@cibox/storage';
import { SHARED_SANDBOX_QUEUE, workerSandboxQueue, type SandboxJob } from '@cibox/queue';

/** Consumes the shared sandbox queue and this worker's own queue. */
@Injectable()
export class SandboxQueueConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SandboxQueueConsumer.name);
  private readonly workers: Worker[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  onApplicationBootstrap(): void {
    for (const name of [SHARED_SANDBOX_QUEUE, workerSandboxQueue(this.config.workerId)]) {
      const worker = new Worker(name, (job: Job) => this.handle({ name: job.name, data: job.data } as SandboxJob), {
        connection: this.redis.duplicate({ maxRetriesPerRequest: null }),
        concurrency: this.config.workerConcurrency,
      });
      worker.on('error', (err) => this.logger.error(`queue ${name}: ${err.message}`));
      this.workers.push(worker);
    }
  }

  private async handle(job: SandboxJob): Promise<void> {
    switch (job.name) {
      case 'execute':
        throw new Error('executions are not implemented yet');
      case 'destroy':
        return;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
