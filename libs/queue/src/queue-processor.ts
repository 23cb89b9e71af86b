import { Inject, Logger, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { LogContext } from './log-context';
import { QUEUE_WAITS, type QueueWaits } from './queue-waits';

/**
 * Base of our `@Processor` classes, which are made with `autorun: false`: a processor takes jobs
 * once the whole app is up, and stops taking them (waiting for its running jobs) as soon as shutdown
 * begins, alongside the services its jobs use, not at application shutdown, when @nestjs/bullmq
 * would close it after them.
 */
export abstract class QueueProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger = new Logger(this.constructor.name);
  @Optional() @Inject(QUEUE_WAITS) private readonly waits?: QueueWaits;
  /** For a job's own log scope: `logContext.run(ids, () => …)`. */
  @Inject(LogContext) protected readonly logContext!: LogContext;

  /**
   * How long the job waited, from being ready (added, or its delay over) to this start. Only a
   * first start: a retry's or a stalled job's wait would mostly measure its back-off or the lock.
   */
  @OnWorkerEvent('active')
  onActive(job: Job): void {
    if (job.attemptsStarted > 1 || !job.processedOn) return;
    this.waits?.observe(this.worker.name, (job.processedOn - job.timestamp - (job.opts.delay ?? 0)) / 1000);
  }

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
