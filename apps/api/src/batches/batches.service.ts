import { Inject, Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { InvalidRequestError, NotFoundError, newId, nowSeconds, type BatchObject, type CreateBatchRequest, type ListQuery } from '@cibox/contracts';
import { BATCH_QUEUE, LogContext, type BatchJob } from '@cibox/queue';
import { BatchRepository, FileRepository, emptyBatchUsage, newBatchRecord, type BatchProgress, type BatchRecord } from '@cibox/storage';
import { toListEnvelope } from '../common/list';

/** A batch's run job is tried again (it resumes where it stopped) if it fails on our side. */
const RUN_JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1000, attempts: 5, backoff: { type: 'exponential', delay: 1000 } } as const;

/** The Batch API: creating a batch queues its run; reads show its progress as its lines end. */
@Injectable()
export class BatchesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batches: BatchRepository,
    private readonly files: FileRepository,
    @InjectQueue(BATCH_QUEUE) private readonly queue: Queue<BatchJob['data'], void, BatchJob['name']>,
    private readonly log: LogContext,
  ) {}

  /** `origin`: what the signed links in its responses are built on (PUBLIC_BASE_URL wins). */
  async create(tenant: string, request: CreateBatchRequest, origin: string): Promise<BatchObject> {
    const file = await this.files.get(tenant, request.input_file_id);
    if (!file) throw new InvalidRequestError(`File with id '${request.input_file_id}' not found.`, 'input_file_id', 'not_found');
    if (file.purpose !== 'batch') {
      throw new InvalidRequestError(`File '${file.id}' has purpose '${file.purpose}'; a batch's input file must be uploaded with purpose 'batch'.`, 'input_file_id', 'invalid_file_purpose');
    }
    const now = nowSeconds();
    const record = newBatchRecord({
      id: newId('batch'),
      tenant,
      origin,
      endpoint: request.endpoint,
      input_file_id: file.id,
      created_at: now,
      expires_at: now + this.config.batches.windowS,
      metadata: request.metadata ?? null,
      output_expires_after_s: request.output_expires_after?.seconds ?? null,
    });
    this.log.assign({ batchId: record.id });
    await this.batches.insert(record);
    await this.queue.add('run', { batchId: record.id }, { jobId: record.id, ...RUN_JOB_OPTIONS });
    return this.present(record);
  }

  async retrieve(tenant: string, id: string): Promise<BatchObject> {
    return this.present(await this.find(tenant, id));
  }

  async list(tenant: string, query: ListQuery) {
    const page = await this.batches.list(tenant, query);
    const progress = await Promise.all(page.data.map((r) => (r.request_counts ? Promise.resolve(null) : this.batches.progress(r.id))));
    return toListEnvelope({ data: page.data.map((r, i) => ({ r, p: progress[i] ?? null })), hasMore: page.hasMore }, ({ r, p }) => toBatchObject(r, p));
  }

  /**
   * Stops a batch that is validating or running: no more of its lines start, those running end, and
   * the runner then writes what they produced (`cancelling`, then `cancelled`). A batch already
   * cancelling or ended is returned as it is.
   */
  async cancel(tenant: string, id: string): Promise<BatchObject> {
    await this.find(tenant, id);
    const moved = await this.batches.transition(id, ['validating', 'in_progress'], { status: 'cancelling', cancelling_at: nowSeconds() });
    return this.present(moved ?? (await this.find(tenant, id)));
  }

  private async find(tenant: string, id: string): Promise<BatchRecord> {
    const record = await this.batches.get(tenant, id);
    if (!record) throw new NotFoundError('Batch', id);
    return record;
  }

  private async present(record: BatchRecord): Promise<BatchObject> {
    return toBatchObject(record, record.request_counts ? null : await this.batches.progress(record.id));
  }
}

/** The wire object: counts and usage from the record once it ended, else from its progress. */
export function toBatchObject(r: BatchRecord, progress: BatchProgress | null): BatchObject {
  const { id, tenant: _t, origin: _o, output_expires_after_s: _e, errors, request_counts, usage, ...fields } = r;
  return {
    id,
    object: 'batch',
    ...fields,
    errors: errors ? { object: 'list', data: errors } : null,
    request_counts: request_counts ?? progress?.counts ?? { total: 0, completed: 0, failed: 0 },
    usage: usage ?? progress?.usage ?? emptyBatchUsage(),
  };
}
