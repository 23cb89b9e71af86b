import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { FINAL_BATCH_STATUSES, nowSeconds, type BatchError, type BatchStatus } from '@cibox/contracts';
import { BATCH_LINE_QUEUE, batchLineJobId, type BatchLineJob } from '@cibox/queue';
import { BatchRepository, FileRepository, OBJECT_STORE, type BatchRecord, type ObjectStore } from '@cibox/storage';
import { WEBHOOK_EMITTER, type WebhookEmitter } from '../common/webhook-events';
import { BatchEndpoints } from './batch-endpoints.service';
import { BatchFiles } from './batch-files.service';
import { parseBatchLine } from './batch-line';
import { MAX_LINE_BYTES, expiredOutcome, isBlank, lineErrorOutcome, pastWindow } from './batch-outcomes';
import { BatchSignals } from './batch-signals';
import { InputReadError, InputReader } from './batch-input';
import { ApiMetrics } from '../metrics/api-metrics.service';

/** How often a runner looks at its batch when none of its lines ended in this process meanwhile. */
const POLL_MS = 200;
/** Validation looks at the batch's state (a cancel, the window) every this many lines. */
const CHECK_EVERY_LINES = 500;
/** An input stream left unread this long is closed, and opened again where it stopped when lines are needed. */
const READER_IDLE_MS = 10_000;
/**
 * Past its window, a batch waits at most this long for lines still running before it ends: a line
 * lost with the job that ran it (which the line processor's failed-job handler misses) cannot hold
 * a batch forever. A line that ends later is not recorded.
 */
const DRAIN_PAST_WINDOW_S = 15 * 60;

/**
 * Line jobs leave the queue once done (the batch records their results); a few failed ones stay, to
 * be looked at. A line only fails on our side (Redis away), so it is tried again a little later.
 */
const LINE_JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1000, attempts: 3, backoff: { type: 'exponential', delay: 1000 } } as const;

type Stage = 'next' | 'stopped' | 'ended';

/**
 * Drives one batch from its `run` job to its end, resumable wherever it stopped (another process
 * takes the job over if this one stops or dies): validates every line of the input file, then
 * keeps at most BATCH_CONCURRENCY lines in the line queue, reading the file from where it got to
 * as lines end, then waits for the last lines and writes the files. The input is read as a
 * stream, one line at a time, in both passes.
 */
@Injectable()
export class BatchRunner {
  private readonly logger = new Logger(BatchRunner.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly batches: BatchRepository,
    private readonly files: FileRepository,
    private readonly endpoints: BatchEndpoints,
    private readonly output: BatchFiles,
    private readonly signals: BatchSignals,
    @InjectQueue(BATCH_LINE_QUEUE) private readonly lines: Queue<BatchLineJob['data'], void, BatchLineJob['name']>,
    private readonly metrics: ApiMetrics,
    @Optional() @Inject(WEBHOOK_EMITTER) private readonly webhooks?: WebhookEmitter,
  ) {}

  /** Runs the batch until it ends (true), or until `stop` aborts (false: the job is to be handed back). */
  async run(batchId: string, stop: AbortSignal): Promise<boolean> {
    const batch = await this.batches.getAny(batchId);
    if (!batch || FINAL_BATCH_STATUSES.includes(batch.status)) return true;
    let stage: Stage = batch.status === 'validating' ? await this.validate(batch, stop) : 'next';
    if (stage === 'next') stage = await this.dispatch(batchId, stop);
    if (stage === 'next') stage = await this.drain(batchId, stop);
    if (stage === 'next') await this.finish(batchId);
    return stage !== 'stopped';
  }

  /** Ends the batch as failed, whatever it had done (its partial results are kept). */
  async fail(batchId: string, error: BatchError): Promise<void> {
    await this.finish(batchId, error);
  }

  private async validate(batch: BatchRecord, stop: AbortSignal): Promise<Stage> {
    await this.batches.resetValidation(batch.id);
    const file = await this.files.get(batch.tenant, batch.input_file_id);
    if (!file) return this.failed(batch.id, 'input_file_missing', `The input file '${batch.input_file_id}' no longer exists.`);
    let total = 0;
    let model: string | null = null;
    let reader: InputReader | null = null;
    try {
      reader = await InputReader.open(this.store, file.object_key, { offset: 0, line: 1 });
      for (let line = await reader.next(); line; line = await reader.next()) {
        if (isBlank(line.bytes)) continue;
        total++;
        const parsed = parseBatchLine(line.bytes, batch.endpoint, (body) => this.endpoints.validate(batch.endpoint, body), MAX_LINE_BYTES);
        if (!parsed.ok) {
          await this.batches.recordInvalid(batch.id, line.number, lineErrorOutcome(parsed.customId, line.number, parsed.code, parsed.message).json);
          this.metrics.batchLines.inc({ outcome: 'invalid' });
        } else if (!(await this.batches.claimCustomId(batch.id, parsed.customId))) {
          const message = `The custom_id '${parsed.customId}' is used by an earlier line; each must be unique.`;
          await this.batches.recordInvalid(batch.id, line.number, lineErrorOutcome(parsed.customId, line.number, 'duplicate_custom_id', message).json);
          this.metrics.batchLines.inc({ outcome: 'invalid' });
        } else if (model === null && typeof parsed.body.model === 'string') {
          model = parsed.body.model;
        }
        if (total % CHECK_EVERY_LINES === 0) {
          if (stop.aborted) return 'stopped';
          const now = await this.batches.getAny(batch.id);
          if (now?.status !== 'validating' || pastWindow(now, nowSeconds())) return 'next';
        }
      }
    } catch (err) {
      if (!(err instanceof InputReadError)) throw err;
      return this.failed(batch.id, 'input_file_unreadable', `The input file '${batch.input_file_id}' could not be read: ${err.message}`);
    } finally {
      reader?.close();
    }
    if (total === 0) return this.failed(batch.id, 'empty_file', `The input file '${batch.input_file_id}' has no requests.`);
    await this.batches.setTotal(batch.id, total);
    await this.batches.transition(batch.id, ['validating'], { status: 'in_progress', in_progress_at: nowSeconds(), model });
    return 'next';
  }

  private async failed(batchId: string, code: string, message: string): Promise<Stage> {
    await this.finish(batchId, { code, message, param: null, line: null });
    return 'ended';
  }

  /** Feeds the line queue while the batch is in progress, until the input ends. */
  private async dispatch(batchId: string, stop: AbortSignal): Promise<Stage> {
    let reader: InputReader | null = null;
    try {
      for (;;) {
        if (stop.aborted) return 'stopped';
        const batch = await this.batches.getAny(batchId);
        if (batch?.status !== 'in_progress' || pastWindow(batch, nowSeconds())) return 'next';
        const progress = await this.batches.progress(batchId);
        if (progress.inputEnded) return 'next';
        const room = this.config.batches.concurrency - (progress.dispatched - progress.finished);
        if (room <= 0) {
          if (reader && reader.idleMs() > READER_IDLE_MS) reader = reader.close();
          await this.signals.wait(batchId, POLL_MS, stop);
          continue;
        }
        reader ??= await this.openInput(batch, progress);
        if (!reader) return 'ended';
        const jobs: { name: 'line'; data: BatchLineJob['data']; opts: object }[] = [];
        let cursor = { offset: progress.offset, line: progress.line };
        let ended = false;
        while (jobs.length < room) {
          const line = await reader.next();
          if (!line) {
            ended = true;
            break;
          }
          cursor = { offset: line.next, line: line.number + 1 };
          if (line.bytes === null || isBlank(line.bytes) || (await this.batches.isInvalid(batchId, line.number))) continue;
          const data = { batchId, line: line.number, text: line.bytes.toString('utf8') };
          jobs.push({ name: 'line', data, opts: { jobId: batchLineJobId(batchId, line.number), ...LINE_JOB_OPTIONS } });
        }
        // Queued before the cursor moves past them: if this process dies between the two, the
        // lines are queued again under the same job ids, and a line that already ran is not run twice.
        if (jobs.length > 0) await this.lines.addBulk(jobs);
        await this.batches.saveCursor(batchId, { ...cursor, dispatched: progress.dispatched + jobs.length, inputEnded: ended });
      }
    } catch (err) {
      if (!(err instanceof InputReadError)) throw err;
      return this.failed(batchId, 'input_file_unreadable', `The input file could not be read: ${err.message}`);
    } finally {
      reader?.close();
    }
  }

  /** Opens the input where dispatching got to; null (and the batch failed) when the file is gone. */
  private async openInput(batch: BatchRecord, from: { offset: number; line: number }): Promise<InputReader | null> {
    const file = await this.files.get(batch.tenant, batch.input_file_id);
    if (!file) {
      await this.failed(batch.id, 'input_file_missing', `The input file '${batch.input_file_id}' was deleted while the batch ran.`);
      return null;
    }
    return InputReader.open(this.store, file.object_key, from);
  }

  /** Waits until every line handed to the queue has ended (those not run yet are skipped once the batch stops). */
  private async drain(batchId: string, stop: AbortSignal): Promise<Stage> {
    for (;;) {
      if (stop.aborted) return 'stopped';
      const progress = await this.batches.progress(batchId);
      if (progress.finished >= progress.dispatched) return 'next';
      const batch = await this.batches.getAny(batchId);
      if (!batch || nowSeconds() >= batch.expires_at + DRAIN_PAST_WINDOW_S) return 'next';
      await this.signals.wait(batchId, POLL_MS, stop);
    }
  }

  /**
   * Writes the files and ends the batch: `failed` when `failure` is given, `cancelled` after a
   * cancel, `expired` past its window, else `completed` (through `finalizing`, which a cancel no
   * longer interrupts).
   */
  private async finish(batchId: string, failure?: BatchError): Promise<void> {
    let batch = await this.batches.getAny(batchId);
    if (!batch || FINAL_BATCH_STATUSES.includes(batch.status)) return;
    const now = nowSeconds();
    let outcome: Extract<BatchStatus, 'failed' | 'cancelled' | 'expired' | 'completed'>;
    if (failure) outcome = 'failed';
    else if (batch.status === 'cancelling') outcome = 'cancelled';
    else if (batch.status !== 'finalizing' && pastWindow(batch, now)) outcome = 'expired';
    else {
      outcome = 'completed';
      if (batch.status !== 'finalizing') {
        const moved = await this.batches.transition(batchId, ['in_progress'], { status: 'finalizing', finalizing_at: now });
        if (!moved) return this.finish(batchId); // cancelled meanwhile
        batch = moved;
      }
    }
    if (outcome === 'expired') await this.expireRest(batch);
    const output_file_id = await this.output.write(batch, 'output');
    const error_file_id = await this.output.write(batch, 'error');
    const { counts, usage } = await this.batches.progress(batchId);
    // A cancel that comes while a batch fails or expires does not change how it ended.
    const from: BatchStatus[] = outcome === 'completed' ? ['finalizing'] : outcome === 'cancelled' ? ['cancelling'] : ['validating', 'in_progress', 'cancelling', 'finalizing'];
    const ended = await this.batches.transition(batchId, from, {
      status: outcome,
      ...endedAt(outcome, nowSeconds()),
      output_file_id,
      error_file_id,
      errors: failure ? [failure] : null,
      request_counts: counts,
      usage,
    });
    if (!ended) return;
    await this.batches.clearWork(batchId);
    this.logger.log(`batch ${batchId} ${outcome}: ${counts.completed} completed, ${counts.failed} failed of ${counts.total}`);
    // Announcing it never fails the batch, which has ended whatever the emitter does.
    await Promise.resolve()
      .then(() => this.webhooks?.emit(ended.tenant, `batch.${outcome}`, batchId))
      .catch((err: Error) => this.logger.warn(`batch ${batchId}: webhook: ${err.message}`));
  }

  /** Past the window, every line not run yet goes to the error file as `batch_expired`. */
  private async expireRest(batch: BatchRecord): Promise<void> {
    const progress = await this.batches.progress(batch.id);
    if (progress.inputEnded || batch.status === 'validating') return;
    const file = await this.files.get(batch.tenant, batch.input_file_id);
    if (!file) return;
    const reader = await InputReader.open(this.store, file.object_key, progress).catch(() => null);
    if (!reader) return;
    try {
      for (let line = await reader.next(); line; line = await reader.next()) {
        if (line.bytes === null || isBlank(line.bytes) || (await this.batches.isInvalid(batch.id, line.number))) continue;
        const parsed = parseBatchLine(line.bytes, batch.endpoint, () => undefined, MAX_LINE_BYTES);
        if (await this.batches.recordLine(batch.id, line.number, expiredOutcome(parsed.customId, line.number))) this.metrics.batchLines.inc({ outcome: 'expired' });
      }
    } finally {
      reader.close();
    }
  }
}

function endedAt(outcome: 'failed' | 'cancelled' | 'expired' | 'completed', at: number): Partial<BatchRecord> {
  switch (outcome) {
    case 'failed':
      return { failed_at: at };
    case 'cancelled':
      return { cancelled_at: at };
    case 'expired':
      return { expired_at: at };
    case 'completed':
      return { completed_at: at };
  }
}
