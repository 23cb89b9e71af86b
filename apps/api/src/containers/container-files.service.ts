import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import {
  CONTAINER_DATA_DIR,
  InvalidRequestError,
  NotFoundError,
  containerFileFromIdSchema,
  newId,
  nowSeconds,
  parseFileName,
  parseOrThrow,
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
  type ObjectStore,
} from '@cibox/storage';
import { isMultipart, receiveUploadInto } from '../common/multipart';
import { toListEnvelope } from '../common/list';
import { ContainersService } from './containers.service';

@Injectable()
export class ContainerFilesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly containers: ContainersService,
    private readonly containerFiles: ContainerFileRepository,
    private readonly files: FileRepository,
  ) {}

  /** Adds a file from a multipart upload or, given JSON `{"file_id"}`, by copying a Files API file. */
  async create(tenant: string, containerId: string, req: Request): Promise<ContainerFileObject> {
    const container = await this.containers.requireActive(tenant, containerId);
    const id = newId('containerFile');
    const key = objectKeys.containerFile(tenant, container.id, id);
    let filename: string;
    let bytes: number;
    if (isMultipart(req)) {
      const upload = await receiveUploadInto(req, this.config.maxUploadBytes, this.store, key);
      if (!upload.file) throw new InvalidRequestError("Missing required parameter: 'file'.", 'file');
      filename = upload.file.filename; // checked by receiveUploadInto
      bytes = upload.file.bytes;
    } else {
      const { file_id } = parseOrThrow(containerFileFromIdSchema, req.body ?? {});
      const file = await this.files.get(tenant, file_id);
      if (!file) throw new NotFoundError('File', file_id);
      // Files API names follow the same rule; this refuses one stored before the rule existed.
      filename = parseFileName(file.filename, 'file_id');
      await this.store.copy(file.object_key, key);
      bytes = file.bytes;
    }
    const record: ContainerFileRecord = {
      id,
      tenant,
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

  /**
   * Puts a Files API file, or bytes given inline, at /mnt/data/<name> in a container (input files of
   * a response). `param` names the request field in errors.
   */
  async place(
    tenant: string,
    containerId: string,
    source: { fileId: string } | { filename: string; data: Buffer },
    param: string,
  ): Promise<ContainerFileObject> {
    const id = newId('containerFile');
    const key = objectKeys.containerFile(tenant, containerId, id);
    let filename: string;
    let bytes: number;
    if ('fileId' in source) {
      const file = await this.files.get(tenant, source.fileId);
      if (!file) throw new InvalidRequestError(`File with id '${source.fileId}' not found.`, param, 'not_found');
      filename = parseFileName(file.filename, param);
      await this.store.copy(file.object_key, key);
      bytes = file.bytes;
    } else {
      filename = parseFileName(source.filename, param);
      await this.store.put(key, source.data, source.data.length);
      bytes = source.data.length;
    }
    const record: ContainerFileRecord = {
      id,
      tenant,
      container_id: containerId,
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
}
