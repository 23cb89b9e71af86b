import type { Readable } from 'node:stream';
import type { ObjectStore } from '@cibox/storage';

/** The rest of a multipart form, once it is read to its end. */
export interface UploadForm {
  /** Every text field, those sent after the file included. */
  fields: Record<string, string>;
  /** The file's size in bytes. */
  bytes: number;
}

/**
 * A file upload as it arrives: its name as sent (valid by `parseFileName`) and its bytes as a
 * stream. `form` settles once the whole request is read, which takes `body` being read: it rejects
 * with the 400 or 413 that ended the upload, and `body` then errors too.
 */
export interface Upload {
  readonly filename: string;
  readonly body: Readable;
  readonly form: Promise<UploadForm>;
}

/**
 * Streams the upload into the object store under `key`, never holding it whole, and returns the
 * rest of its form. If anything fails (the upload, the size limit, the store), the partial object
 * is removed and the upload's own error, if it has one, is thrown.
 */
export async function storeUpload(upload: Upload, store: Pick<ObjectStore, 'put' | 'remove'>, key: string): Promise<UploadForm> {
  const put = store.put(key, upload.body).catch((err: unknown) => {
    upload.body.destroy(); // the rest of the file is then drained, so the form can end
    throw err;
  });
  const [stored, form] = await Promise.allSettled([put, upload.form]);
  if (stored.status === 'fulfilled' && form.status === 'fulfilled') return form.value;
  await store.remove(key).catch(() => undefined);
  if (form.status === 'rejected') throw form.reason;
  throw (stored as PromiseRejectedResult).reason;
}
