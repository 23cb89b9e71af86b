import { Injectable, type Type } from '@nestjs/common';
import { OnWorkerEvent, Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import type { AppConfig } from '@cibox/config';
import { QueueProcessor, RESPONSES_QUEUE, type BackgroundResponseJob } from '@cibox/queue';
import { ResponsesService } from './responses.service';

/**
 * Runs background responses: every api instance takes them from the one `responses` queue. An api
 * that dies mid-run loses its lock, and the job is handed to another (or to it, restarted), which
 * starts the response over and says so (`attempts`).
 */
@Injectable()
export abstract class BackgroundResponsesProcessor extends QueueProcessor {
  constructor(private readonly responses: ResponsesService) {
    super();
  }

  override async process(job: Job<BackgroundResponseJob>): Promise<void> {
    const { responseId, requestId } = job.data;
    await this.logContext.run({ responseId, requestId }, () => this.responses.runBackground(responseId));
  }

  /** A job BullMQ gave up on (its api kept dying) must not leave its response `in_progress`. */
  @OnWorkerEvent('failed')
  onFailed(job: Job<BackgroundResponseJob> | undefined, err: Error): void {
    if (!job) return;
    this.logger.error(`background response ${job.data.responseId} gave up: ${err.message}`);
    void this.responses.endBackground(job.data.responseId, 'failed', 'The response was started over too many times: the apis running it kept stopping.').catch(() => undefined);
  }
}

/** The processor class, with the config's concurrency and lock (known once the config is read). */
export function backgroundResponsesProcessor(config: AppConfig): Type<BackgroundResponsesProcessor> {
  @Processor(RESPONSES_QUEUE, {
    concurrency: config.responsesConcurrency,
    lockDuration: config.queueLockMs,
    stalledInterval: config.queueLockMs,
    // A response whose api keeps dying is failed by BullMQ after this many restarts.
    maxStalledCount: 3,
    autorun: false,
  })
  class ResponsesQueueProcessor extends BackgroundResponsesProcessor {}
  return ResponsesQueueProcessor;
}
