import type { Redis } from 'ioredis';

export interface PageRequest {
  after?: string;
  limit: number;
  order: 'asc' | 'desc';
}

export interface Page<T> {
  data: T[];
  hasMore: boolean;
}

const KEY_PREFIX = 'cibox:';

/**
 * JSON records in Redis, each listed in sorted-set indexes (score: creation time in ms, ties broken
 * by id), which gives stable cursor pagination (`after` = last id of the previous page).
 */
export class RedisRecords<T extends { id: string }> {
  constructor(
    private readonly redis: Redis,
    private readonly kind: string,
  ) {}

  recordKey(id: string): string {
    return `${KEY_PREFIX}${this.kind}:${id}`;
  }

  indexKey(index: string): string {
    return `${KEY_PREFIX}${this.kind}-index:${index}`;
  }

  async get(id: string): Promise<T | null> {
    const raw = await this.redis.get(this.recordKey(id));
    return raw ? (JSON.parse(raw) as T) : null;
  }

  async getMany(ids: string[]): Promise<(T | null)[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.recordKey(id)));
    return raws.map((raw) => (raw ? (JSON.parse(raw) as T) : null));
  }

  /** Writes the record and adds it to `indexes` in one transaction. */
  async insert(record: T, indexes: string[], scoreMs: number): Promise<void> {
    const tx = this.redis.multi().set(this.recordKey(record.id), JSON.stringify(record));
    for (const index of indexes) tx.zadd(this.indexKey(index), scoreMs, record.id);
    await tx.exec();
  }

  async save(record: T): Promise<void> {
    await this.redis.set(this.recordKey(record.id), JSON.stringify(record));
  }

  /**
   * Writes over the record only while it exists: a read-modify-write racing a delete must not bring
   * the record back outside its indexes. False when it was gone.
   */
  async update(record: T): Promise<boolean> {
    return (await this.redis.set(this.recordKey(record.id), JSON.stringify(record), 'XX')) === 'OK';
  }

  async remove(id: string, indexes: string[]): Promise<void> {
    const tx = this.redis.multi().del(this.recordKey(id));
    for (const index of indexes) tx.zrem(this.indexKey(index), id);
    await tx.exec();
  }

  async allIds(index: string): Promise<string[]> {
    return this.redis.zrange(this.indexKey(index), 0, -1);
  }

  /** One page of an index, optionally filtered; reads in batches so a filter never loads a whole index. */
  async page(index: string, req: PageRequest, filter?: (record: T) => boolean): Promise<Page<T>> {
    const key = this.indexKey(index);
    const asc = req.order === 'asc';
    let start = 0;
    if (req.after) {
      const rank = asc ? await this.redis.zrank(key, req.after) : await this.redis.zrevrank(key, req.after);
      // An unknown cursor (say, deleted since the previous page) ends the listing rather than restarting it.
      if (rank === null) return { data: [], hasMore: false };
      start = rank + 1;
    }
    const out: T[] = [];
    const batch = Math.min(Math.max(req.limit + 1, 50), 1000);
    for (;;) {
      const ids = asc
        ? await this.redis.zrange(key, start, start + batch - 1)
        : await this.redis.zrevrange(key, start, start + batch - 1);
      if (ids.length === 0) return { data: out, hasMore: false };
      const records = await this.getMany(ids);
      for (const record of records) {
        if (!record || (filter && !filter(record))) continue;
        if (out.length === req.limit) return { data: out, hasMore: true };
        out.push(record);
      }
      if (ids.length < batch) return { data: out, hasMore: false };
      start += batch;
    }
  }
}
