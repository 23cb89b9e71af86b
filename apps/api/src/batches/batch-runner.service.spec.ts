import type { AppConfig } from '@cibox/config';
import { nowSeconds, type BatchStatus } from '@cibox/contracts';
import { emptyBatchUsage, newBatchRecord, type BatchProgress, type BatchRecord, type BatchRepository } from '@cibox/storage';
import type { WebhookEmitter } from '../common/webhook-events';
import type { BatchFiles } from './batch-files.service';
import { BatchRunner } from './batch-runner.service';
import { BatchSignals } from './batch-signals';

/** A batch's record and progress in memory, with the repository's conditional state change. */
class FakeBatches {
  cleared = false;
  constructor(
    public record: BatchRecord,
    public progressNow: BatchProgress,
  ) {}

  getAny = (id: string) => Promise.resolve(id === this.record.id ? structuredClone(this.record) : null);
  progress = () => Promise.resolve(structuredClone(this.progressNow));
  transition = (_id: string, from: readonly BatchStatus[], patch: Partial<BatchRecord>) => {
    if (!from.includes(this.record.status)) return Promise.resolve(null);
    this.record = { ...this.record, ...patch };
    return Promise.resolve(structuredClone(this.record));
  };
  clearWork = () => {
    this.cleared = true;
    return Promise.resolve();
  };
}

function batch(status: BatchStatus, fields: Partial<BatchRecord> = {}): BatchRecord {
  const now = nowSeconds();
  return newBatchRecord({
    id: 'batch_1',
    tenant: 'tn_a',
    origin: 'http://127.0.0.1',
    endpoint: '/v1/chat/completions',
    input_file_id: 'file-in',
    created_at: now - 10,
    expires_at: now + 3600,
    status,
    in_progress_at: status === 'validating' ? null : now - 5,
    ...fields,
  });
}

const progress = (fields: Partial<BatchProgress> = {}): BatchProgress => ({
  counts: { total: 3, completed: 2, failed: 1 },
  usage: { ...emptyBatchUsage(), input_tokens: 7, output_tokens: 3, total_tokens: 10 },
  dispatched: 2,
  finished: 2,
  offset: 100,
  line: 4,
  inputEnded: true,
  ...fields,
});

function runner(batches: FakeBatches, webhooks?: WebhookEmitter) {
  const config = { batches: { concurrency: 4, windowS: 3600 } } as AppConfig;
  const output = { write: (_b: BatchRecord, file: 'output' | 'error') => Promise.resolve(file === 'output' ? 'file-out' : null) } as unknown as BatchFiles;
  // Reading the input and queueing lines are not reached when the input has ended.
  const unused = {} as never;
  return new BatchRunner(config, unused, batches as unknown as BatchRepository, unused, unused, output, new BatchSignals(), unused, unused, webhooks);
}

function emitter() {
  const events: [string, string, string][] = [];
  const webhooks: WebhookEmitter = {
    emit: (tenant, type, id) => {
      events.push([tenant, type, id]);
      return Promise.resolve();
    },
  };
  return { events, webhooks };
}

describe('BatchRunner', () => {
  const stop = new AbortController().signal;

  it('completes a batch whose lines all ended: finalizing, then completed with its files, counts and usage', async () => {
    const batches = new FakeBatches(batch('in_progress'), progress());
    const { events, webhooks } = emitter();
    expect(await runner(batches, webhooks).run('batch_1', stop)).toBe(true);
    expect(batches.record).toMatchObject({
      status: 'completed',
      output_file_id: 'file-out',
      error_file_id: null,
      request_counts: { total: 3, completed: 2, failed: 1 },
      usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10 },
    });
    expect(batches.record.finalizing_at).not.toBeNull();
    expect(batches.record.completed_at).toBeGreaterThanOrEqual(batches.record.finalizing_at!);
    expect(batches.cleared).toBe(true);
    expect(events).toEqual([['tn_a', 'batch.completed', 'batch_1']]);
  });

  it('ends a cancelling batch as cancelled, with what its lines produced', async () => {
    const batches = new FakeBatches(batch('cancelling', { cancelling_at: nowSeconds() }), progress({ inputEnded: false }));
    const { events, webhooks } = emitter();
    await runner(batches, webhooks).run('batch_1', stop);
    expect(batches.record).toMatchObject({ status: 'cancelled', output_file_id: 'file-out', finalizing_at: null });
    expect(batches.record.cancelled_at).not.toBeNull();
    expect(events).toEqual([['tn_a', 'batch.cancelled', 'batch_1']]);
  });

  it('ends a batch past its window as expired', async () => {
    const batches = new FakeBatches(batch('in_progress', { expires_at: nowSeconds() - 1 }), progress());
    const { events, webhooks } = emitter();
    await runner(batches, webhooks).run('batch_1', stop);
    expect(batches.record.status).toBe('expired');
    expect(batches.record.expired_at).not.toBeNull();
    expect(events).toEqual([['tn_a', 'batch.expired', 'batch_1']]);
  });

  it('fails a batch with the error given, keeping what it produced', async () => {
    const batches = new FakeBatches(batch('in_progress'), progress());
    const { events, webhooks } = emitter();
    const error = { code: 'internal_error', message: 'broken', param: null, line: null };
    await runner(batches, webhooks).fail('batch_1', error);
    expect(batches.record).toMatchObject({ status: 'failed', errors: [error], output_file_id: 'file-out' });
    expect(events).toEqual([['tn_a', 'batch.failed', 'batch_1']]);
  });

  it('leaves an ended batch as it is, and announces nothing', async () => {
    const batches = new FakeBatches(batch('completed', { completed_at: 1 }), progress());
    const { events, webhooks } = emitter();
    expect(await runner(batches, webhooks).run('batch_1', stop)).toBe(true);
    expect(batches.record.completed_at).toBe(1);
    expect(events).toEqual([]);
  });

  it('ends a batch without a webhook emitter, and despite one that fails', async () => {
    const alone = new FakeBatches(batch('in_progress'), progress());
    await runner(alone).run('batch_1', stop);
    expect(alone.record.status).toBe('completed');
    const failing = new FakeBatches(batch('in_progress'), progress());
    await runner(failing, { emit: () => Promise.reject(new Error('queue down')) }).run('batch_1', stop);
    expect(failing.record.status).toBe('completed');
  });

  it('hands a batch back when stopped while its lines run', async () => {
    const batches = new FakeBatches(batch('in_progress'), progress({ dispatched: 4, finished: 1 }));
    const stopping = new AbortController();
    const run = runner(batches).run('batch_1', stopping.signal);
    stopping.abort();
    expect(await run).toBe(false);
    expect(batches.record.status).toBe('in_progress');
  });
});
