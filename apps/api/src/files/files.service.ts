import { Inject, Injectable } from '@nestjs/common';
import {
  InvalidRequestError,
  NotFoundError,
  filePurposeSchema,
  newId,
  nowSeconds,
  parseOrThrow,
  type FileObject,
  type ListQuery,
} from '@cibox/contracts';
import { FileRepository, OBJECT_STORE, objectKeys, toFileObject, type FileRecord, type ObjectStore } from '@cibox/storage';
import { storeUpload, type Upload } from '../common/upload';
import { toListEnvelope } from '../common/list';

@Injectable()
export class FilesService {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly files: FileRepository,
  ) {}

  /** Streams the upload to S3 under a fresh id; metadata is written only once the blob is whole. */
  async upload(tenant: string, upload: Upload): Promise<FileObject> {
    const id = newId('file');
    const key = objectKeys.file(tenant, id);
    const { fields, bytes } = await storeUpload(upload, this.store, key);
    try {
      if (fields.purpose === undefined) throw new InvalidRequestError("Missing required parameter: 'purpose'.", 'purpose');
      const purpose = parseOrThrow(filePurposeSchema, fields.purpose, 'purpose');
      // The name was checked when it was received, by the rule container files share.
      const record: FileRecord = { id, tenant, bytes, created_at: nowSeconds(), filename: upload.filename, purpose, object_key: key };
      await this.files.insert(record);
      return toFileObject(record);
    } catch (err) {
      await this.store.remove(key).catch(() => undefined);
      throw err;
    }
  }

  async get(tenant: string, id: string): Promise<FileRecord> {
    const record = await this.files.get(tenant, id);
    if (!record) throw new NotFoundError('File', id);
    return record;
  }

  async list(tenant: string, query: ListQuery & { purpose?: string }) {
    const page = await this.files.list(tenant, query, query.purpose);
    return toListEnvelope(page, toFileObject);
  }

  async content(tenant: string, id: string) {
    const record = await this.get(tenant, id);
    return { record, ...(await this.store.get(record.object_key)) };
  }

  async remove(tenant: string, id: string) {
    const record = await this.get(tenant, id);
    await this.files.remove(record);
    await this.store.remove(record.object_key);
    return { id, object: 'file' as const, deleted: true as const };
  }
}
