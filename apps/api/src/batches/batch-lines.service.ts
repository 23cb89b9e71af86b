import { Injectable } from '@nestjs/common';
import { FINAL_BATCH_STATUSES, nowSeconds } from '@cibox/contracts';
import type { BatchLineJobData } from '@cibox/queue';
import { BatchRepository } from '@cibox/storage';
import { BatchEndpoints } from './batch-endpoints.service';
import { parseBatchLine } from './batch-line';
import { MAX_LINE_BYTES, expiredOutcome, lineErrorOutcome, pastWindow, replyOutcome } from './batch-outcomes';
import { BatchSignals } from './batch-signals';
import { ApiMetrics } from '../metrics/api-metrics.service';

/**
 * Runs one line of a batch through its endpoint and records how it ended, once. A line whose batch
 * stopped (cancelled) before it started is skipped without a result; one past the window is
 * recorded as expired.
 */
@Injectable()
export class BatchLines {
  constructor(
    private readonly batches: BatchRepository,
    private readonly endpoints: BatchEndpoints,
    private readonly signals: BatchSignals,
    private readonly metrics: ApiMetrics,
  ) {}

  /** Rejects only when `signal` aborts the line, which is then not recorded (and is to be run again). */
  async run({ batchId, line, text }: BatchLineJobData, signal: AbortSignal): Promise<void> {
    const batch = await this.batches.getAny(batchId);
    if (!batch || FINAL_BATCH_STATUSES.includes(batch.status) || (await this.batches.isDone(batchId, line))) return;
    // Validated before it was queued; parsed again here for its body.
    const parsed = parseBatchLine(Buffer.from(text), batch.endpoint, () => undefined, MAX_LINE_BYTES);
    let outcome;
    let expired = false;
    if (!parsed.ok) outcome = lineErrorOutcome(parsed.customId, line, parsed.code, parsed.message);
    else if (pastWindow(batch, nowSeconds())) {
      outcome = expiredOutcome(parsed.customId, line);
      expired = true;
    }
    else if (batch.status !== 'in_progress') outcome = null;
    else outcome = replyOutcome(parsed.customId, await this.endpoints.run(batch.tenant, batch.endpoint, parsed.body, batch.origin, signal));
    // Counted once, by whoever recorded it: a line run twice (its job handed on) is recorded once.
    if ((await this.batches.recordLine(batchId, line, outcome)) && outcome) this.metrics.batchLines.inc({ outcome: expired ? 'expired' : outcome.count });
    this.signals.notify(batchId);
  }

  /** A line whose job was lost (its process died too often while running it): recorded as failed, so the batch can end. */
  async lost({ batchId, line, text }: BatchLineJobData, reason: string): Promise<void> {
    const batch = await this.batches.getAny(batchId);
    if (!batch || FINAL_BATCH_STATUSES.includes(batch.status)) return;
    const parsed = parseBatchLine(Buffer.from(text), batch.endpoint, () => undefined, MAX_LINE_BYTES);
    if (await this.batches.recordLine(batchId, line, lineErrorOutcome(parsed.customId, line, 'line_failed', `The request could not be run: ${reason}`))) {
      this.metrics.batchLines.inc({ outcome: 'failed' });
    }
    this.signals.notify(batchId);
  }
}
