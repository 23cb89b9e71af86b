import { Injectable, type Type } from '@nestjs/common';
import { OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { DelayedError, type Job } from 'bullmq';
import type { AppConfig } from '@cibox/config';
import { BATCH_LINE_QUEUE, BATCH_QUEUE, QueueProcessor, type BatchLineJob, type BatchJob } from '@cibox/queue';
import { BatchLines } from './batch-lines.service';
import { BatchRunner } from './batch-runner.service';

/** Batches one api process drives at once: a runner mostly waits for its lines, so many fit. */
const RUNNERS_PER_PROCESS = 32;

/**
 * A processor of a batch queue in the api. At shutdown it stops its running jobs and hands them back
 * to the queue (`stopping` aborts them), so another api process goes on with them at once instead of
 * this one holding up its exit.
 */
abstract class BatchQueueProcessor extends QueueProcessor {
  protected readonly stopping = new AbortController();

  /** Puts the job back in its queue, to be taken again; ends `process`. */
  protected async handBack(job: Job, token: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  /** Whether a job that failed stays failed (no attempt left, or it stalled too often), rather than being tried again. */
  protected async failedForGood(job: Job): Promise<boolean> {
    return (await job.getState()) === 'failed';
  }

  override async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await super.onModuleDestroy();
  }
}

/** Runs `run` jobs: each drives one batch to its end (BatchRunner). */
@Injectable()
export abstract class BatchRunProcessor extends BatchQueueProcessor {
  constructor(private readonly runner: BatchRunner) {
    super();
  }

  override async process(job: Job<BatchJob['data'], void, BatchJob['name']>, token?: string): Promise<void> {
    const done = await this.logContext.run({ batchId: job.data.batchId }, () => this.runner.run(job.data.batchId, this.stopping.signal));
    if (!done) await this.handBack(job, token);
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job<BatchJob['data']> | undefined, err: Error): Promise<void> {
    if (!job || !(await this.failedForGood(job))) return;
    this.logger.error(`batch ${job.data.batchId} could not be run: ${err.stack ?? err.message}`);
    await this.runner.fail(job.data.batchId, { code: 'internal_error', message: 'The batch could not be run to its end.', param: null, line: null }).catch(() => undefined);
  }
}

/** Runs `line` jobs: one request of a batch each (BatchLines). */
@Injectable()
export abstract class BatchLineProcessor extends BatchQueueProcessor {
  constructor(private readonly lines: BatchLines) {
    super();
  }

  override async process(job: Job<BatchLineJob['data'], void, BatchLineJob['name']>, token?: string): Promise<void> {
    try {
      await this.logContext.run({ batchId: job.data.batchId }, () => this.lines.run(job.data, this.stopping.signal));
    } catch (err) {
      if (this.stopping.signal.aborted) await this.handBack(job, token);
      throw err;
    }
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job<BatchLineJob['data']> | undefined, err: Error): Promise<void> {
    if (!job || !(await this.failedForGood(job))) return;
    await this.lines.lost(job.data, err.message).catch(() => undefined);
  }
}

/**
 * The processors of the two batch queues, which every api process runs: `run` jobs, and `line`
 * jobs at BATCH_CONCURRENCY at once. A job whose process stops answering is taken back after the
 * queue lock time (QUEUE_LOCK_MS), as sandbox jobs are.
 */
export function batchProcessors(config: AppConfig): Type<BatchQueueProcessor>[] {
  const lock = { lockDuration: config.queueLockMs, stalledInterval: config.queueLockMs, autorun: false };

  @Processor(BATCH_QUEUE, { ...lock, concurrency: RUNNERS_PER_PROCESS, maxStalledCount: 5 })
  class RunProcessor extends BatchRunProcessor {}

  @Processor(BATCH_LINE_QUEUE, { ...lock, concurrency: config.batches.concurrency, maxStalledCount: 2 })
  class LineProcessor extends BatchLineProcessor {}

  return [RunProcessor, LineProcessor];
}
