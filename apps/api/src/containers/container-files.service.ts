import { Inject, Injectable } from '@nestjs/common';
import {
  CONTAINER_DATA_DIR,
  NotFoundError,
  newId,
  nowSeconds,
  parseFileName,
  type ContainerFileObject,
  type ListQuery,
} from '@cibox/contracts';
import {
  ContainerFileRepository,
  FileRepository,
  OBJECT_STORE,
  objectKeys,
  toContainerFileObject,
  type ContainerFileRecord,
  type ContainerRecord,
  type ObjectStore,
} from '@cibox/storage';
import { storeUpload, type Upload } from '../common/upload';
import { toListEnvelope } from '../common/list';
import { ContainersService } from './containers.service';

@Injectable()
export class ContainerFilesService {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly containers: ContainersService,
    private readonly containerFiles: ContainerFileRepository,
    private readonly files: FileRepository,
  ) {}

  /** Adds a file from a multipart upload, streamed to S3. */
  async upload(tenant: string, containerId: string, upload: Upload): Promise<ContainerFileObject> {
    const container = await this.containers.requireActive(tenant, containerId);
    const id = newId('containerFile');
    const key = objectKeys.containerFile(tenant, container.id, id);
    const { bytes } = await storeUpload(upload, this.store, key);
    return this.register(container, id, key, upload.filename, bytes); // the name was checked when it was received
  }

  /** Adds a copy of a Files API file. */
  async copy(tenant: string, containerId: string, fileId: string): Promise<ContainerFileObject> {
    const container = await this.containers.requireActive(tenant, containerId);
    const file = await this.files.get(tenant, fileId);
    if (!file) throw new NotFoundError('File', fileId);
    // Files API names follow the same rule; this refuses one stored before the rule existed.
    const filename = parseFileName(file.filename, 'file_id');
    const id = newId('containerFile');
    const key = objectKeys.containerFile(tenant, container.id, id);
    await this.store.copy(file.object_key, key);
    return this.register(container, id, key, filename, file.bytes);
  }

  /** Records a file whose blob is stored under `key`; one with the same name is replaced. */
  private async register(container: ContainerRecord, id: string, key: string, filename: string, bytes: number): Promise<ContainerFileObject> {
    const record: ContainerFileRecord = {
      id,
      tenant: container.tenant,
      container_id: container.id,
      path: `${CONTAINER_DATA_DIR}/${filename}`,
      bytes,
      created_at: nowSeconds(),
      source: 'user',
      object_key: key,
    };
    const replaced = await this.containerFiles.upsertByPath(record);
    if (replaced) await this.store.remove(replaced.object_key).catch(() => undefined);
    return toContainerFileObject(record);
  }

  async list(tenant: string, containerId: string, query: ListQuery) {
    await this.containers.requireActive(tenant, containerId);
    return toListEnvelope(await this.containerFiles.list(containerId, query), toContainerFileObject);
  }

  async get(tenant: string, containerId: string, fileId: string): Promise<ContainerFileRecord> {
    await this.containers.requireActive(tenant, containerId);
    const record = await this.containerFiles.get(tenant, containerId, fileId);
    if (!record) throw new NotFoundError('Container file', fileId);
    return record;
  }

  async content(tenant: string, containerId: string, fileId: string) {
    const record = await this.get(tenant, containerId, fileId);
    return { record, ...(await this.store.get(record.object_key)) };
  }

  async remove(tenant: string, containerId: string, fileId: string) {
    const record = await this.get(tenant, containerId, fileId);
    await this.containerFiles.remove(record);
    await this.store.remove(record.object_key).catch(() => undefined);
    return { id: fileId, object: 'container.file.deleted' as const, deleted: true as const };
  }

  /** Adds a file given as bytes (an input file inlined in a response request). */
  async write(tenant: string, containerId: string, filename: string, data: Buffer, param: string): Promise<ContainerFileObject> {
    const container = await this.containers.requireActive(tenant, containerId);
    const name = parseFileName(filename, param);
    const id = newId('containerFile');
    const key = objectKeys.containerFile(tenant, container.id, id);
    await this.store.put(key, data, data.length);
    return this.register(container, id, key, name, data.length);
  }
}
