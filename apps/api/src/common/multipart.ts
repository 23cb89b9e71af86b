import busboy from 'busboy';
import type { Request } from 'express';
import { PassThrough, type Readable } from 'node:stream';
import { InvalidRequestError, PayloadTooLargeError, parseFileName } from '@cibox/contracts';

export interface UploadedFile<T> {
  filename: string;
  bytes: number;
  stored: T;
}

export interface MultipartUpload<T> {
  fields: Record<string, string>;
  file: UploadedFile<T> | null;
}

export function isMultipart(req: Request): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');
}

/**
 * Streams the multipart field `file` into `store` as it arrives (never buffering it whole) and
 * collects the text fields. Over `maxBytes` the store is aborted, the rest of the body is drained
 * so the client reads our answer, and a 413 is thrown. A file name that is not valid
 * (`parseFileName`) is a 400 before anything is stored.
 */
export function receiveMultipart<T>(
  req: Request,
  maxBytes: number,
  store: (body: Readable, filename: string) => Promise<T>,
): Promise<MultipartUpload<T>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024 },
        // Clients (browsers, undici, curl) send file names as raw UTF-8; busboy's default is latin1.
        defParamCharset: 'utf8',
        // The name is checked as sent: a path or `..` is refused, never quietly cut to its last segment.
        preservePath: true,
      });
    } catch {
      reject(new InvalidRequestError('Expected a multipart/form-data body with a `file` field.', 'file'));
      return;
    }
    const fields: Record<string, string> = {};
    let stored: Promise<UploadedFile<T>> | null = null;
    let failure: Error | null = null;
    const fail = (err: Error) => {
      failure ??= err;
    };

    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, file, info) => {
      // A body that ends mid-part errors the part's stream too; unhandled, that would end the process.
      file.on('error', (err: Error) => fail(new InvalidRequestError(`Malformed multipart body: ${err.message}`, 'file')));
      if (name !== 'file' || stored) {
        file.resume();
        return;
      }
      let filename: string;
      try {
        filename = parseFileName(info.filename ?? '', 'file');
      } catch (err) {
        fail(err as Error);
        file.resume();
        return;
      }
      const body = new PassThrough();
      file.on('error', (err: Error) => body.destroy(err));
      let bytes = 0;
      file.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      file.on('limit', () => {
        const err = new PayloadTooLargeError(maxBytes);
        fail(err);
        // Unpipe before destroying: a pipe whose destination closes pauses its source, and busboy
        // ends the form only once the file stream has ended, so a paused one would hang the request.
        file.unpipe(body);
        body.destroy(err);
        file.resume();
      });
      file.pipe(body);
      stored = store(body, filename).then((result) => ({ filename, bytes, stored: result }));
      stored.catch(() => undefined);
    });
    parser.on('filesLimit', () => undefined);
    parser.on('error', (err: Error) => {
      fail(new InvalidRequestError(`Malformed multipart body: ${err.message}`, 'file'));
      req.unpipe(parser);
      req.resume();
      req.on('end', () => void finish());
    });
    parser.on('close', () => void finish());

    let finished = false;
    async function finish() {
      if (finished) return;
      finished = true;
      let file: UploadedFile<T> | null = null;
      if (stored) {
        try {
          file = await stored;
        } catch (err) {
          fail(err as Error);
        }
      }
      if (failure) reject(failure);
      else resolve({ fields, file });
    }
    req.on('aborted', () => fail(new InvalidRequestError('The upload was interrupted.', 'file')));
    req.pipe(parser);
  });
}

/**
 * Streams the upload's `file` into the object store under `key`. If anything fails (the upload,
 * the size limit, the request), the partial object is removed and the error rethrown.
 */
export async function receiveUploadInto(
  req: Request,
  maxBytes: number,
  store: { put(key: string, body: Readable): Promise<void>; remove(key: string): Promise<void> },
  key: string,
): Promise<MultipartUpload<void>> {
  try {
    return await receiveMultipart(req, maxBytes, (body) => store.put(key, body));
  } catch (err) {
    await store.remove(key).catch(() => undefined);
    throw err;
  }
}
