import { PassThrough, type Readable } from 'node:stream';
import type { Request } from 'express';
import { InvalidRequestError, PayloadTooLargeError } from '@cibox/contracts';
import { receiveUpload } from './multipart';
import { storeUpload, type Upload } from './upload';

const BOUNDARY = 'cibox-test-boundary';

/** A request carrying a multipart body with `purpose` and a `file` of `size` bytes, sent in 16 KiB chunks. */
function request(size: number): Request {
  const req = new PassThrough() as unknown as Request & PassThrough;
  (req as unknown as { headers: Record<string, string> }).headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const body = Buffer.concat([head, Buffer.alloc(size, 7), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
  void (async () => {
    for (let i = 0; i < body.length; i += 16 * 1024) {
      if (!req.write(body.subarray(i, i + 16 * 1024))) await new Promise((r) => req.once('drain', r));
    }
    req.end();
  })();
  return req;
}

/** A store that reads slowly, so the file stream is often paused by backpressure. */
async function slowStore(body: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    await new Promise((r) => setTimeout(r, 1));
  }
  return bytes;
}

/** Receives the upload as a service does: the file read by `store`, then the rest of the form. */
function receive(req: Request, maxBytes: number, store: (body: Readable) => Promise<unknown>) {
  return receiveUpload(req, maxBytes, async (upload: Upload) => {
    const stored = await store(upload.body);
    return { filename: upload.filename, stored, ...(await upload.form) };
  });
}

describe('receiveUpload', () => {
  it('streams a file within the limit to the store and collects fields', async () => {
    const got = await receive(request(300 * 1024), 1024 * 1024, slowStore);
    expect(got).toEqual({ filename: 'big.bin', bytes: 300 * 1024, stored: 300 * 1024, fields: { purpose: 'assistants' } });
  });

  it('answers an oversize upload with 413 after draining the body, also while the store applies backpressure', async () => {
    for (let round = 0; round < 20; round++) {
      const req = request(2 * 1024 * 1024);
      const outcome = await Promise.race([
        receive(req, 256 * 1024, slowStore).then(
          () => 'accepted',
          (err: unknown) => err,
        ),
        new Promise((r) => setTimeout(() => r('hung'), 5000).unref()),
      ]);
      expect(outcome).toBeInstanceOf(PayloadTooLargeError);
      expect(req.readableEnded).toBe(true);
    }
  });

  it('answers 413 when the limit is crossed in one chunk and the form ends in a later one', async () => {
    const req = new PassThrough() as unknown as Request & PassThrough;
    (req as unknown as { headers: Record<string, string> }).headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
    const outcome = Promise.race([
      receive(req, 1024, async (body: Readable) => {
        for await (const chunk of body) void chunk;
      }).then(
        () => 'accepted',
        (err: unknown) => err,
      ),
      new Promise((r) => setTimeout(() => r('hung'), 3000).unref()),
    ]);
    req.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n`);
    req.write(Buffer.alloc(2048, 1)); // crosses the 1 KiB limit
    await new Promise((r) => setTimeout(r, 50)); // the pipe into the store is torn down meanwhile
    req.end(`\r\n--${BOUNDARY}--\r\n`);
    expect(await outcome).toBeInstanceOf(PayloadTooLargeError);
  });

  it('drains a file its handler never reads (a 404 for the container), so the reply can go out', async () => {
    const req = request(2 * 1024 * 1024);
    const outcome = await receiveUpload(req, 4 * 1024 * 1024, () => Promise.reject(new Error('no such container'))).catch((err: unknown) => err);
    expect(outcome).toMatchObject({ message: 'no such container' });
    expect(req.readableEnded).toBe(true);
  });

  describe('storeUpload', () => {
    const store = (put: (body: Readable) => Promise<void>) => ({ put: jest.fn((_key: string, body: Readable) => put(body)), remove: jest.fn(() => Promise.resolve()) });

    it('returns the rest of the form once the file is stored', async () => {
      const s = store(async (body) => void (await slowStore(body)));
      const form = await receiveUpload(request(100 * 1024), 1024 * 1024, (upload) => storeUpload(upload, s, 'k'));
      expect(form).toEqual({ fields: { purpose: 'assistants' }, bytes: 100 * 1024 });
      expect(s.remove).not.toHaveBeenCalled();
    });

    it('over the limit: throws the 413, not the store\'s error, and removes the partial object', async () => {
      const s = store(async (body) => void (await slowStore(body)));
      const outcome = await receiveUpload(request(2 * 1024 * 1024), 256 * 1024, (upload) => storeUpload(upload, s, 'k')).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(PayloadTooLargeError);
      expect(s.remove).toHaveBeenCalledWith('k');
    });

    it('a store that fails midway: throws its error once the body is drained, and removes the partial object', async () => {
      const s = store(async (body) => {
        for await (const chunk of body) void chunk;
      });
      s.put.mockImplementationOnce(async (_key: string, body: Readable) => {
        await new Promise((r) => body.once('data', r));
        throw new Error('S3 went away');
      });
      const req = request(2 * 1024 * 1024);
      const outcome = await Promise.race([
        receiveUpload(req, 4 * 1024 * 1024, (upload) => storeUpload(upload, s, 'k')).catch((err: unknown) => err),
        new Promise((r) => setTimeout(() => r('hung'), 5000).unref()),
      ]);
      expect(outcome).toMatchObject({ message: 'S3 went away' });
      expect(req.readableEnded).toBe(true);
      expect(s.remove).toHaveBeenCalledWith('k');
    });
  });

  describe('file names', () => {
    /** A one-part form whose Content-Disposition carries `filename` as these exact bytes. */
    function named(filename: Buffer): Request {
      const req = new PassThrough() as unknown as Request & PassThrough;
      (req as unknown as { headers: Record<string, string> }).headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
      req.end(
        Buffer.concat([
          Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="`),
          filename,
          Buffer.from(`"\r\n\r\nhello\r\n--${BOUNDARY}--\r\n`),
        ]),
      );
      return req;
    }
    const store = jest.fn(async (body: Readable) => {
      for await (const chunk of body) void chunk;
    });
    beforeEach(() => store.mockClear());

    it.each(['ü.txt', '数据.csv', 'émoji 🎉.md'])('reads the UTF-8 name %j as sent', async (name) => {
      const got = await receive(named(Buffer.from(name, 'utf8')), 1024, store);
      expect(got.filename).toBe(name);
    });

    it('takes an empty file name as a text field, so the file counts as missing', async () => {
      const outcome = await receive(named(Buffer.alloc(0)), 1024, store).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(InvalidRequestError);
      expect(outcome).toMatchObject({ param: 'file', message: "Missing required parameter: 'file'." });
      expect(store).not.toHaveBeenCalled();
    });

    it.each([
      ['a path', 'dir/x.txt'],
      ['a Windows path', 'C:\\fakepath\\x.txt'],
      ['..', '..'],
      ['.', '.'],
      ['300 characters', 'a'.repeat(300)],
      ['86 three-byte characters (258 bytes)', '数'.repeat(86)],
      ['a tab', 'a\tb.txt'],
      ['a leading space', ' x.txt'],
    ])('refuses %s with a 400 and stores nothing', async (_case, name) => {
      const outcome = await receive(named(Buffer.from(name, 'utf8')), 1024, store).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(InvalidRequestError);
      expect(outcome).toMatchObject({ param: 'file', code: 'invalid_file_name' });
      expect(store).not.toHaveBeenCalled();
    });
  });
});
