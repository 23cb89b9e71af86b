import type { Redis } from 'ioredis';
import {
  containerFileName,
  type ContainerFileObject,
  type ContainerFileSource,
  type ContainerObject,
  type FileObject,
  type FilePurpose,
  type MemoryLimit,
} from '@cibox/contracts';
import { stateKeys } from './state-keys';
import { runScript } from './scripts';
import { RedisRecords, type Page, type PageRequest } from './redis-records';

export interface FileRecord {
  id: string;
  tenant: string;
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  object_key: string;
  /** When it stops being served (unix seconds); a batch's output files may have one. */
  expires_at?: number | null;
}

export function toFileObject(r: FileRecord): FileObject {
  return { id: r.id, object: 'file', bytes: r.bytes, created_at: r.created_at, expires_at: r.expires_at ?? null, filename: r.filename, purpose: r.purpose, status: 'processed' };
}

const isLive = (r: FileRecord) => !r.expires_at || r.expires_at > Date.now() / 1000;

export interface ContainerRecord {
  id: string;
  tenant: string;
  name: string;
  created_at: number;
  last_active_at: number;
  expires_minutes: number;
  memory_limit: MemoryLimit;
  /** Set once the container was seen past its idle limit; expiry is irreversible. */
  expired: boolean;
}

export function isExpired(r: ContainerRecord, nowSec: number): boolean {
  return r.expired || nowSec - r.last_active_at >= r.expires_minutes * 60;
}

export function toContainerObject(r: ContainerRecord, nowSec: number): ContainerObject {
  return {
    id: r.id,
    object: 'container',
    created_at: r.created_at,
    status: isExpired(r, nowSec) ? 'expired' : 'running',
    expires_after: { anchor: 'last_active_at', minutes: r.expires_minutes },
    last_active_at: r.last_active_at,
    memory_limit: r.memory_limit,
    name: r.name,
  };
}

export interface ContainerFileRecord {
  id: string;
  tenant: string;
  container_id: string;
  path: string;
  bytes: number;
  created_at: number;
  source: ContainerFileSource;
  object_key: string;
}

export function toContainerFileObject(r: ContainerFileRecord): ContainerFileObject {
  return {
    id: r.id,
    object: 'container.file',
    created_at: r.created_at,
    bytes: r.bytes,
    container_id: r.container_id,
    path: r.path,
    source: r.source,
    filename: containerFileName(r.path),
  };
}

/** Files API metadata; every read is scoped to a tenant, so another tenant's id reads as absent. */
export class FileRepository {
  private readonly records: RedisRecords<FileRecord>;
  constructor(redis: Redis) {
    this.records = new RedisRecords(redis, 'file');
  }

  private indexes(r: FileRecord): string[] {
    return [r.tenant, `${r.tenant}:${r.purpose}`];
  }

  async insert(r: FileRecord): Promise<void> {
    await this.records.insert(r, this.indexes(r), Date.now());
  }

  /** The tenant's file, unless it expired. */
  async get(tenant: string, id: string): Promise<FileRecord | null> {
    const r = await this.records.get(id);
    return r && r.tenant === tenant && isLive(r) ? r : null;
  }

  async remove(r: FileRecord): Promise<void> {
    await this.records.remove(r.id, this.indexes(r));
  }

  list(tenant: string, page: PageRequest, purpose?: string): Promise<Page<FileRecord>> {
    return this.records.page(purpose ? `${tenant}:${purpose}` : tenant, page, isLive);
  }
}

/** A tenant's containers that are not expired, and seconds until the first of them expires (0 if none). */
export interface LiveContainers {
  live: number;
  firstExpiryS: number;
}

export class ContainerRepository {
  private readonly records: RedisRecords<ContainerRecord>;
  constructor(private readonly redis: Redis) {
    this.records = new RedisRecords(redis, 'container');
  }

  async insert(r: ContainerRecord): Promise<void> {
    await this.records.insert(r, [r.tenant, 'all'], Date.now());
  }

  async get(tenant: string, id: string): Promise<ContainerRecord | null> {
    const r = await this.records.get(id);
    return r && r.tenant === tenant ? r : null;
  }

  /** Unscoped read, for workers that act on behalf of the system. */
  getAny(id: string): Promise<ContainerRecord | null> {
    return this.records.get(id);
  }

  /** Writes over the container's record; never recreates a deleted one (false then). */
  save(r: ContainerRecord): Promise<boolean> {
    return this.records.update(r);
  }

  async remove(r: ContainerRecord): Promise<void> {
    await this.records.remove(r.id, [r.tenant, 'all']);
  }

  list(tenant: string, page: PageRequest, name?: string): Promise<Page<ContainerRecord>> {
    return this.records.page(tenant, page, name === undefined ? undefined : (r) => r.name === name);
  }

  allIds(): Promise<string[]> {
    return this.records.allIds('all');
  }

  /** How many of the tenant's containers are not expired, and in how many seconds the first of them expires. */
  async countLive(tenant: string, nowSec: number): Promise<LiveContainers> {
    const { live, firstExpiryS } = await this.liveWithin(tenant, nowSec, 0, []);
    return { live, firstExpiryS };
  }

  /**
   * Inserts `r` unless its tenant already has `limit` containers that are not expired, counted and
   * inserted in one step; `inserted: false` changes nothing. Returns the count after it.
   */
  async insertWithin(r: ContainerRecord, limit: number, nowSec: number): Promise<LiveContainers & { inserted: boolean }> {
    return this.liveWithin(r.tenant, nowSec, limit, [r.id, JSON.stringify(r), Date.now()]);
  }

  private async liveWithin(tenant: string, nowSec: number, limit: number, insert: (string | number)[]): Promise<LiveContainers & { inserted: boolean }> {
    const keys = [this.records.indexKey(tenant), this.records.indexKey('all')];
    const [inserted, live, firstExpiryS] = (await runScript(this.redis, 'ciboxInsertContainerWithin', keys, [this.records.recordKey(''), nowSec, limit, ...insert])) as number[];
    return { inserted: inserted === 1, live: live ?? 0, firstExpiryS: firstExpiryS ?? 0 };
  }
}

/**
 * Container files; a path maps to at most one file, so a new upload to a path replaces the old one.
 * Every change bumps the container's files version, which lets a worker skip an unchanged sync.
 */
export class ContainerFileRepository {
  private readonly records: RedisRecords<ContainerFileRecord>;
  constructor(private readonly redis: Redis) {
    this.records = new RedisRecords(redis, 'cfile');
  }

  private pathsKey(containerId: string): string {
    return `cibox:cfile-paths:${containerId}`;
  }

  /** Inserts `r`, returning the record it replaced at the same path, if any. */
  async upsertByPath(r: ContainerFileRecord): Promise<ContainerFileRecord | null> {
    const result = await this.upsert(r, null);
    return result.replaced;
  }

  /**
   * Inserts `r` only if its path still holds the file `expectedId` (null: no file), returning what
   * it replaced, or `applied: false` and no change when another write to the path came first.
   */
  upsertByPathIf(r: ContainerFileRecord, expectedId: string | null): Promise<{ applied: boolean; replaced: ContainerFileRecord | null }> {
    return this.upsert(r, expectedId ?? '');
  }

  /**
   * One script, so writes to a path are wholly ordered: each sees the one before it, and none can
   * leave a second record listed at the same path. The order of these commits is what decides which
   * of an upload and a cell's write wins (see FileSync). `expectedId` null writes whatever the path
   * holds; a string requires the path to hold that id ('' for no file).
   */
  private async upsert(r: ContainerFileRecord, expectedId: string | null): Promise<{ applied: boolean; replaced: ContainerFileRecord | null }> {
    const [applied, replaced] = (await runScript(
      this.redis,
      'ciboxUpsertFileByPath',
      [this.pathsKey(r.container_id), this.records.indexKey(r.container_id), stateKeys.containerFilesVersion(r.container_id)],
      [r.path, r.id, JSON.stringify(r), Date.now(), this.records.recordKey(''), expectedId === null ? '0' : '1', expectedId ?? ''],
    )) as [number, string];
    return { applied: applied === 1, replaced: replaced ? (JSON.parse(replaced) as ContainerFileRecord) : null };
  }

  /** The container's files version: changes whenever any of its files does. */
  async version(containerId: string): Promise<string> {
    return (await this.redis.get(stateKeys.containerFilesVersion(containerId))) ?? '0';
  }

  private async bump(containerId: string): Promise<void> {
    await this.redis.incr(stateKeys.containerFilesVersion(containerId));
  }

  async get(tenant: string, containerId: string, id: string): Promise<ContainerFileRecord | null> {
    const r = await this.records.get(id);
    return r && r.tenant === tenant && r.container_id === containerId ? r : null;
  }

  async getByPath(containerId: string, path: string): Promise<ContainerFileRecord | null> {
    const id = await this.redis.hget(this.pathsKey(containerId), path);
    return id ? this.records.get(id) : null;
  }

  async remove(r: ContainerFileRecord): Promise<void> {
    await this.records.remove(r.id, [r.container_id]);
    // Only unmap the path if it still points at this file (a newer upload may have replaced it).
    const current = await this.redis.hget(this.pathsKey(r.container_id), r.path);
    if (current === r.id) await this.redis.hdel(this.pathsKey(r.container_id), r.path);
    await this.bump(r.container_id);
  }

  list(containerId: string, page: PageRequest): Promise<Page<ContainerFileRecord>> {
    return this.records.page(containerId, page);
  }

  async all(containerId: string): Promise<ContainerFileRecord[]> {
    const ids = await this.records.allIds(containerId);
    return (await this.records.getMany(ids)).filter((r): r is ContainerFileRecord => r !== null);
  }

  async removeAll(containerId: string): Promise<ContainerFileRecord[]> {
    const all = await this.all(containerId);
    for (const r of all) await this.records.remove(r.id, [containerId]);
    await this.redis.del(this.pathsKey(containerId), stateKeys.containerFilesVersion(containerId));
    return all;
  }
}
