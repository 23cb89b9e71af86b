import { Inject, Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { newId, nowSeconds } from '@cibox/contracts';
import { BatchRepository, FileRepository, OBJECT_STORE, objectKeys, type BatchRecord, type ObjectStore } from '@cibox/storage';

/** Result lines read from Redis per round trip while a file is written. */
const PAGE_LINES = 500;

/** Writes a batch's output and error files: its result lines, streamed from Redis to S3 a page at a time. */
@Injectable()
export class BatchFiles {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly batches: BatchRepository,
    private readonly files: FileRepository,
  ) {}

  /** Stores the batch's `file` as a Files API file (purpose `batch_output`); its id, or null when it has no lines. */
  async write(batch: BatchRecord, file: 'output' | 'error'): Promise<string | null> {
    if ((await this.batches.results(batch.id, file, 0, 1)).length === 0) return null;
    const id = newId('file');
    const key = objectKeys.file(batch.tenant, id);
    let bytes = 0;
    const batches = this.batches;
    async function* pages() {
      for (let start = 0; ; start += PAGE_LINES) {
        const lines = await batches.results(batch.id, file, start, PAGE_LINES);
        if (lines.length === 0) return;
        const chunk = Buffer.from(`${lines.join('\n')}\n`);
        bytes += chunk.length;
        yield chunk;
        if (lines.length < PAGE_LINES) return;
      }
    }
    await this.store.put(key, Readable.from(pages()));
    const createdAt = nowSeconds();
    await this.files.insert({
      id,
      tenant: batch.tenant,
      bytes,
      created_at: createdAt,
      filename: `batch_${batch.id}_${file}.jsonl`,
      purpose: 'batch_output',
      object_key: key,
      expires_at: batch.output_expires_after_s ? createdAt + batch.output_expires_after_s : null,
    });
    return id;
  }
}
