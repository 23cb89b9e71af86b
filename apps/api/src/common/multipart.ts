import busboy from 'busboy';
import type { Request } from 'express';
import { PassThrough } from 'node:stream';
import { InvalidRequestError, PayloadTooLargeError, parseFileName } from '@cibox/contracts';
import type { Upload, UploadForm } from './upload';

export function isMultipart(req: Request): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');
}

/**
 * Reads a multipart request up to its `file` part and hands that part to `handle` as an `Upload`
 * (a service streams it where it belongs). The body is read to its end before the reply, whatever
 * `handle` does, so the client reads our answer: a file `handle` left unread is drained. Rejects
 * with a 400 for a form with no file, a malformed body or a bad file name, before `handle` runs.
 */
export async function receiveUpload<T>(req: Request, maxBytes: number, handle: (upload: Upload) => Promise<T>): Promise<T> {
  const upload = await fileUpload(req, maxBytes);
  try {
    return await handle(upload);
  } finally {
    upload.body.destroy();
    await upload.form.catch(() => undefined);
  }
}

/**
 * Parses the request as it arrives (busboy, never buffering the file) and resolves once the `file`
 * part begins. Over `maxBytes` the file's stream errors and the form rejects with a 413. A file
 * name that is not valid (`parseFileName`) is a 400 before anything is read from the file.
 */
function fileUpload(req: Request, maxBytes: number): Promise<Upload> {
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
    let bytes = 0;
    let upload: Upload | null = null;
    let failure: Error | null = null;
    const fail = (err: Error) => {
      failure ??= err;
    };
    let settleForm!: { resolve: (form: UploadForm) => void; reject: (err: Error) => void };
    const form = new Promise<UploadForm>((resolve, reject) => (settleForm = { resolve, reject }));
    form.catch(() => undefined); // read by whoever reads the upload; never an unhandled rejection

    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, file, info) => {
      // A body that ends mid-part errors the part's stream too; unhandled, that would end the process.
      file.on('error', (err: Error) => fail(new InvalidRequestError(`Malformed multipart body: ${err.message}`, 'file')));
      if (name !== 'file' || upload) {
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
      file.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      // busboy ends the form only once the file has ended, so a body closed before that (over the
      // limit, or its reader failed or is done with it) leaves the rest of the file to be drained.
      // Unpipe before resuming: a pipe whose destination closes pauses its source, which would hang
      // the request. (Registered before the pipe's own listener, so it runs first.)
      const drain = () => {
        file.unpipe(body);
        file.resume();
      };
      body.on('close', drain);
      file.on('limit', () => {
        const err = new PayloadTooLargeError(maxBytes);
        fail(err);
        drain();
        body.destroy(err);
      });
      file.pipe(body);
      upload = { filename, body, form };
      resolve(upload);
    });
    parser.on('filesLimit', () => undefined);
    parser.on('error', (err: Error) => {
      fail(new InvalidRequestError(`Malformed multipart body: ${err.message}`, 'file'));
      req.unpipe(parser);
      req.resume();
      req.on('end', finish);
    });
    parser.on('close', finish);

    let finished = false;
    function finish() {
      if (finished) return;
      finished = true;
      if (!upload) reject(failure ?? new InvalidRequestError("Missing required parameter: 'file'.", 'file'));
      else if (failure) settleForm.reject(failure);
      else settleForm.resolve({ fields, bytes });
    }
    req.on('aborted', () => fail(new InvalidRequestError('The upload was interrupted.', 'file')));
    req.pipe(parser);
  });
}
