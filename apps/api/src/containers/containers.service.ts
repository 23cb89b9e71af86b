import { Inject, Injectable } from '@nestjs/common';
import {
  ContainerExpiredError,
  InvalidRequestError,
  NotFoundError,
  newId,
  nowSeconds,
  parseFileName,
  type ContainerObject,
  type CreateContainerRequest,
  type ListQuery,
} from '@cibox/contracts';
import {
  ContainerFileRepository,
  ContainerRepository,
  FileRepository,
  OBJECT_STORE,
  isExpired,
  objectKeys,
  toContainerObject,
  type ContainerRecord,
  type ObjectStore,
} from '@cibox/storage';
import { LogContext } from '@cibox/queue';
import { toListEnvelope } from '../common/list';
import { SandboxControl } from '../sandboxes/sandbox-control.service';
import { QuotasService } from '../quotas/quotas.service';

const DEFAULT_IDLE_MINUTES = 20;

@Injectable()
export class ContainersService {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly containers: ContainerRepository,
    private readonly containerFiles: ContainerFileRepository,
    private readonly files: FileRepository,
    private readonly sandboxes: SandboxControl,
    private readonly quotas: QuotasService,
    private readonly log: LogContext,
  ) {}

  async create(tenant: string, req: CreateContainerRequest): Promise<ContainerObject> {
    await this.quotas.checkLiveContainers(tenant);
    // Resolve every file first, so a bad id changes nothing.
    const sources = [];
    for (const [i, fileId] of (req.file_ids ?? []).entries()) {
      const file = await this.files.get(tenant, fileId);
      if (!file) throw new InvalidRequestError(`File with id '${fileId}' not found.`, `file_ids.${i}`, 'not_found');
      // Files API names follow the container rule; this refuses one stored before the rule existed.
      parseFileName(file.filename, `file_ids.${i}`);
      sources.push(file);
    }
    const now = nowSeconds();
    const record: ContainerRecord = {
      id: newId('container'),
      tenant,
      name: req.name,
      created_at: now,
      last_active_at: now,
      expires_minutes: req.expires_after?.minutes ?? DEFAULT_IDLE_MINUTES,
      memory_limit: req.memory_limit ?? '1g',
      expired: false,
    };
    this.log.assign({ containerId: record.id });
    // Placed before anything is stored: when every worker is full, the 429 leaves nothing behind.
    await this.sandboxes.place(record.id, record.memory_limit);
    try {
      for (const file of sources) {
        const id = newId('containerFile');
        const key = objectKeys.containerFile(tenant, record.id, id);
        await this.store.copy(file.object_key, key);
        await this.containerFiles.upsertByPath({
          id,
          tenant,
          container_id: record.id,
          path: `/mnt/data/${file.filename}`,
          bytes: file.bytes,
          created_at: now,
          source: 'user',
          object_key: key,
        });
      }
      // Refused at the limit when a creation raced this one: its files and place go with it.
      await this.quotas.insertContainer(record);
    } catch (err) {
      await this.removeFiles(record.id).catch(() => undefined);
      await this.sandboxes.destroy(record.id).catch(() => undefined);
      throw err;
    }
    // The container exists now; a mark left behind by a failure here lapses on its own.
    await this.sandboxes.stored(record.id).catch(() => undefined);
    return toContainerObject(record, now);
  }

  async list(tenant: string, query: ListQuery & { name?: string }) {
    const now = nowSeconds();
    const page = await this.containers.list(tenant, query, query.name);
    return toListEnvelope(page, (r) => toContainerObject(r, now));
  }

  /** Reads a container and refreshes its idle clock, as every container operation does. */
  async retrieve(tenant: string, id: string): Promise<ContainerObject> {
    const record = await this.find(tenant, id);
    const now = nowSeconds();
    if (!isExpired(record, now)) await this.touch(record, now);
    return toContainerObject(record, now);
  }

  /** A container that file and execution operations may use: it exists, is the tenant's and is live. */
  async requireActive(tenant: string, id: string): Promise<ContainerRecord> {
    const record = await this.find(tenant, id);
    const now = nowSeconds();
    if (isExpired(record, now)) {
      await this.markExpired(record);
      throw new ContainerExpiredError();
    }
    await this.touch(record, now);
    return record;
  }

  async remove(tenant: string, id: string) {
    const record = await this.find(tenant, id);
    await this.containers.remove(record);
    await this.removeFiles(record.id);
    await this.sandboxes.destroy(record.id);
    return { id, object: 'container.deleted' as const, deleted: true as const };
  }

  private async removeFiles(containerId: string): Promise<void> {
    const files = await this.containerFiles.removeAll(containerId);
    await Promise.all(files.map((f) => this.store.remove(f.object_key).catch(() => undefined)));
  }

  private async find(tenant: string, id: string): Promise<ContainerRecord> {
    const record = await this.containers.get(tenant, id);
    if (!record) throw new NotFoundError('Container', id);
    this.log.assign({ containerId: id });
    return record;
  }

  private async touch(record: ContainerRecord, now: number): Promise<void> {
    if (record.last_active_at === now) return;
    record.last_active_at = now;
    await this.containers.save(record);
  }

  private async markExpired(record: ContainerRecord): Promise<void> {
    if (record.expired) return;
    record.expired = true;
    await this.containers.save(record);
    await this.sandboxes.destroy(record.id);
  }
}
