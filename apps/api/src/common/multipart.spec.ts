import { PassThrough, type Readable } from 'node:stream';
import type { Request } from 'express';
import { InvalidRequestError, PayloadTooLargeError } from '@cibox/contracts';
import { receiveMultipart } from './multipart';

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

describe('receiveMultipart', () => {
  it('streams a file within the limit to the store and collects fields', async () => {
    const got = await receiveMultipart(request(300 * 1024), 1024 * 1024, slowStore);
    expect(got.fields).toEqual({ purpose: 'assistants' });
    expect(got.file).toMatchObject({ filename: 'big.bin', bytes: 300 * 1024, stored: 300 * 1024 });
  });

  it('answers an oversize upload with 413 after draining the body, also while the store applies backpressure', async () => {
    for (let round = 0; round < 20; round++) {
      const req = request(2 * 1024 * 1024);
      const outcome = await Promise.race([
        receiveMultipart(req, 256 * 1024, slowStore).then(
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
      receiveMultipart(req, 1024, async (body: Readable) => {
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
      const got = await receiveMultipart(named(Buffer.from(name, 'utf8')), 1024, store);
      expect(got.file?.filename).toBe(name);
    });

    it('takes an empty file name as a text field, so the file counts as missing', async () => {
      const got = await receiveMultipart(named(Buffer.alloc(0)), 1024, store);
      expect(got).toEqual({ fields: { file: 'hello' }, file: null });
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
      const outcome = await receiveMultipart(named(Buffer.from(name, 'utf8')), 1024, store).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(InvalidRequestError);
      expect(outcome).toMatchObject({ param: 'file', code: 'invalid_file_name' });
      expect(store).not.toHaveBeenCalled();
    });
  });
});
