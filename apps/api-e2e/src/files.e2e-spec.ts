import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { client, expectOpenAIError, raw, baseUrl } from './support/clients';

describe('Files API through the official SDK', () => {
  const a = client('a');
  const b = client('b');

  it('uploads, retrieves, lists, downloads byte-exact and deletes a binary file', async () => {
    const bytes = randomBytes(300_000);
    const created = await a.files.create({ file: await toFile(bytes, 'blob.bin'), purpose: 'user_data' });
    expect(created).toMatchObject({ object: 'file', bytes: bytes.length, filename: 'blob.bin', purpose: 'user_data', status: 'processed' });
    expect(created.id).toMatch(/^file-[0-9a-f]{48}$/);

    const retrieved = await a.files.retrieve(created.id);
    expect(retrieved).toEqual(created);

    const content = Buffer.from(await (await a.files.content(created.id)).arrayBuffer());
    expect(content.equals(bytes)).toBe(true);

    const ids: string[] = [];
    for await (const f of a.files.list({ purpose: 'user_data' })) ids.push(f.id);
    expect(ids).toContain(created.id);

    expect(await a.files.delete(created.id)).toEqual({ id: created.id, object: 'file', deleted: true });
    await expect(a.files.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('filters by purpose and pages with after/limit/order', async () => {
    // A purpose no other suite uploads with (the batch suite uploads 'batch' files), so the list is these.
    const purpose = 'fine-tune';
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await a.files.create({ file: await toFile(Buffer.from(`row ${i}\n`), `p${i}.txt`), purpose }));
    const page = await a.files.list({ purpose, limit: 2, order: 'asc' });
    expect(page.data.map((f) => f.id)).toEqual(made.slice(0, 2).map((f) => f.id));
    expect(page.has_more).toBe(true);
    const all: string[] = [];
    for await (const f of a.files.list({ purpose, limit: 2, order: 'asc' })) all.push(f.id);
    expect(all).toEqual(made.map((f) => f.id));
    const desc = await a.files.list({ purpose, order: 'desc' });
    expect(desc.data.map((f) => f.id)).toEqual(made.map((f) => f.id).reverse());
  });

  it('hides a file from another key: 404 on retrieve, content and delete, absent from lists', async () => {
    const mine = await a.files.create({ file: await toFile(Buffer.from('secret'), 's.txt'), purpose: 'assistants' });
    await expect(b.files.retrieve(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b.files.content(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b.files.delete(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const own = await b.files.create({ file: await toFile(Buffer.from('theirs'), 't.txt'), purpose: 'assistants' });
    const theirs: string[] = [];
    for await (const f of b.files.list()) theirs.push(f.id);
    expect(theirs).toContain(own.id); // the listing works, and still leaves ours out
    expect(theirs).not.toContain(mine.id);
    expect((await a.files.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('rejects an upload over MAX_UPLOAD_BYTES with 413 and stores nothing', async () => {
    const before = (await a.files.list({ purpose: 'vision' })).data.length;
    const big = Buffer.alloc(Number(process.env.CIBOX_MAX_UPLOAD_BYTES) + 1024, 1);
    const err = await a.files.create({ file: await toFile(big, 'big.bin'), purpose: 'vision' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((err as any).param).toBe('file');
    expect((await a.files.list({ purpose: 'vision' })).data.length).toBe(before);
  });

  it('rejects a bad purpose with 400 naming purpose', async () => {
    const err = await a.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'nonsense' as 'user_data' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as any).param).toBe('purpose');
  });

  it('rejects an upload without a file with 400', async () => {
    const form = new FormData();
    form.set('purpose', 'user_data');
    const res = await fetch(`${baseUrl()}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}` } });
    expect(res.status).toBe(400);
    expectOpenAIError(await res.json(), 'file');
  });

  it('rejects a non-multipart upload with 400', async () => {
    const res = await raw('POST', '/v1/files', { body: { purpose: 'user_data' } });
    expect(res.status).toBe(400);
    expectOpenAIError(res.json);
  });

  it('rejects a list limit out of range with 400 naming limit', async () => {
    const res = await raw('GET', '/v1/files?limit=0');
    expect(res.status).toBe(400);
    expectOpenAIError(res.json, 'limit');
  });
});
