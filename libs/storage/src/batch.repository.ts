import type { Redis } from 'ioredis';
import type { BatchError, BatchObject, BatchRequestCounts, BatchStatus, BatchUsage } from '@cibox/contracts';
import { RedisRecords, type Page, type PageRequest } from './redis-records';
import { runScript } from './scripts';
import { stateKeys } from './state-keys';

/**
 * A batch as stored: the wire object's fields (counts and usage only once it ended; while it runs,
 * its progress hash holds them), and what only the server needs.
 */
export interface BatchRecord extends Omit<BatchObject, 'object' | 'errors' | 'request_counts' | 'usage'> {
  tenant: string;
  /** Origin that the signed links in its responses are built on. */
  origin: string;
  /** Seconds its output files live after they are made, or null for as long as the batch. */
  output_expires_after_s: number | null;
  /** Why it failed as a whole (never an empty list: Redis' JSON would turn it into an object). */
  errors: BatchError[] | null;
  request_counts: BatchRequestCounts | null;
  usage: BatchUsage | null;
}

/** A new batch, `validating`, with nothing done yet. */
export function newBatchRecord(fields: Pick<BatchRecord, 'id' | 'tenant' | 'origin' | 'endpoint' | 'input_file_id' | 'created_at' | 'expires_at'> & Partial<BatchRecord>): BatchRecord {
  return {
    completion_window: '24h',
    status: 'validating',
    metadata: null,
    output_expires_after_s: null,
    model: null,
    output_file_id: null,
    error_file_id: null,
    errors: null,
    in_progress_at: null,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: null,
    usage: null,
    ...fields,
  };
}

/** What a batch's lines have done so far, and where its runner is in the input file. */
export interface BatchProgress {
  counts: BatchRequestCounts;
  usage: BatchUsage;
  /** Lines handed to the line queue, and lines that ended (ran or were skipped). */
  dispatched: number;
  finished: number;
  /** Byte offset in the input file of the first line not yet dispatched, and its line number (from 1). */
  offset: number;
  line: number;
  inputEnded: boolean;
}

/** How one line ended: a result line for one of the files, the count it adds to, its usage. */
export interface BatchLineOutcome {
  file: 'output' | 'error';
  json: string;
  count: 'completed' | 'failed';
  usage: BatchUsage | null;
}

export const emptyBatchUsage = (): BatchUsage => ({
  input_tokens: 0,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 0,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 0,
});

function toProgress(h: Record<string, string>): BatchProgress {
  const n = (field: string) => Number(h[field] ?? 0);
  return {
    counts: { total: n('total'), completed: n('completed'), failed: n('failed') },
    usage: {
      input_tokens: n('input_tokens'),
      input_tokens_details: { cached_tokens: n('cached_tokens') },
      output_tokens: n('output_tokens'),
      output_tokens_details: { reasoning_tokens: n('reasoning_tokens') },
      total_tokens: n('total_tokens'),
    },
    dispatched: n('dispatched'),
    finished: n('finished'),
    offset: n('offset'),
    line: n('line') || 1,
    inputEnded: h.input_ended === '1',
  };
}

/**
 * Batches: the record (JSON, listed per tenant), changed only through `transition`, so each state
 * change is one conditional write; and, while it runs, its progress hash, the bitmaps of its done
 * and invalid lines, its custom_ids and its result lists (the file contents until they are written).
 */
export class BatchRepository {
  private readonly records: RedisRecords<BatchRecord>;
  constructor(private readonly redis: Redis) {
    this.records = new RedisRecords(redis, 'batch');
  }

  async insert(r: BatchRecord): Promise<void> {
    await this.records.insert(r, [r.tenant], Date.now());
  }

  async get(tenant: string, id: string): Promise<BatchRecord | null> {
    const r = await this.records.get(id);
    return r && r.tenant === tenant ? r : null;
  }

  /** Unscoped read, for the processors that run batches. */
  getAny(id: string): Promise<BatchRecord | null> {
    return this.records.get(id);
  }

  list(tenant: string, page: PageRequest): Promise<Page<BatchRecord>> {
    return this.records.page(tenant, page);
  }

  /** Sets `patch` if the batch is in one of the `from` states; the new record, or null if it was not. */
  async transition(id: string, from: readonly BatchStatus[], patch: Partial<Omit<BatchRecord, 'id' | 'tenant'>>): Promise<BatchRecord | null> {
    const out = (await runScript(this.redis, 'ciboxTransitionBatch', [this.records.recordKey(id)], [from.join(','), JSON.stringify(patch)])) as string | null;
    return out ? (JSON.parse(out) as BatchRecord) : null;
  }

  async progress(id: string): Promise<BatchProgress> {
    return toProgress(await this.redis.hgetall(stateKeys.batchProgress(id)));
  }

  /** Forgets a validation pass that did not finish, so it can start over. */
  async resetValidation(id: string): Promise<void> {
    await this.redis.del(stateKeys.batchProgress(id), stateKeys.batchInvalid(id), stateKeys.batchCustomIds(id), stateKeys.batchResults(id, 'error'));
  }

  /** Claims a custom_id for a line; false if another line of the batch has it. */
  async claimCustomId(id: string, customId: string): Promise<boolean> {
    return (await this.redis.sadd(stateKeys.batchCustomIds(id), customId)) === 1;
  }

  /** A line that failed validation: never run, counted as failed, its result in the error file. */
  async recordInvalid(id: string, line: number, json: string): Promise<void> {
    await this.redis
      .multi()
      .setbit(stateKeys.batchInvalid(id), line, 1)
      .rpush(stateKeys.batchResults(id, 'error'), json)
      .hincrby(stateKeys.batchProgress(id), 'failed', 1)
      .exec();
  }

  async isInvalid(id: string, line: number): Promise<boolean> {
    return (await this.redis.getbit(stateKeys.batchInvalid(id), line)) === 1;
  }

  /** Ends validation: the input's number of requests, and the model its first valid line names. */
  async setTotal(id: string, total: number): Promise<void> {
    await this.redis.hset(stateKeys.batchProgress(id), 'total', total);
  }

  /** Where dispatching got to: the next line's offset and number, the lines dispatched, whether the input ended. */
  async saveCursor(id: string, cursor: { offset: number; line: number; dispatched: number; inputEnded: boolean }): Promise<void> {
    await this.redis.hset(stateKeys.batchProgress(id), {
      offset: cursor.offset,
      line: cursor.line,
      dispatched: cursor.dispatched,
      input_ended: cursor.inputEnded ? '1' : '0',
    });
  }

  /** Records how a line ended (null: skipped, with no result), once; false if it was recorded before or the batch ended. */
  async recordLine(id: string, line: number, outcome: BatchLineOutcome | null): Promise<boolean> {
    const u = outcome?.usage;
    const recorded = await runScript(
      this.redis,
      'ciboxRecordBatchLine',
      [stateKeys.batchDone(id), stateKeys.batchProgress(id), stateKeys.batchResults(id, outcome?.file ?? 'error')],
      [
        line,
        outcome?.json ?? '',
        outcome?.count ?? '',
        u?.input_tokens ?? 0,
        u?.input_tokens_details.cached_tokens ?? 0,
        u?.output_tokens ?? 0,
        u?.output_tokens_details.reasoning_tokens ?? 0,
        u?.total_tokens ?? 0,
      ],
    );
    return recorded === 1;
  }

  async isDone(id: string, line: number): Promise<boolean> {
    return (await this.redis.getbit(stateKeys.batchDone(id), line)) === 1;
  }

  /** Result lines of one file, `count` from `start`, in the order they were recorded. */
  results(id: string, file: 'output' | 'error', start: number, count: number): Promise<string[]> {
    return this.redis.lrange(stateKeys.batchResults(id, file), start, start + count - 1);
  }

  /** Drops everything but the record, once the batch has ended. */
  async clearWork(id: string): Promise<void> {
    await this.redis.del(
      stateKeys.batchProgress(id),
      stateKeys.batchDone(id),
      stateKeys.batchInvalid(id),
      stateKeys.batchCustomIds(id),
      stateKeys.batchResults(id, 'output'),
      stateKeys.batchResults(id, 'error'),
    );
  }
}
