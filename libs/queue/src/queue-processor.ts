import { Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';

/**
 * Base of our `@Processor` classes, which are made with `autorun: false`: a processor takes jobs
 * once the whole app is up, and stops taking them (waiting for its running jobs) as soon as shutdown
 * begins, alongside the services its jobs use, not at application shutdown, when @nestjs/bullmq
 * would close it after them.
 */
export abstract class QueueProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger = new Logger(this.constructor.name);

  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.logger.error(`queue ${this.worker.name}: ${err.message}`);
  }

  onApplicationBootstrap(): void {
    this.worker.run().catch((err: Error) => this.logger.error(`queue ${this.worker.name} stopped: ${err.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }
}
