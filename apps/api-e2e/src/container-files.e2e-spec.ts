import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { client, expectOpenAIError, raw } from './support/clients';

describe('Container files API through the official SDK', () => {
  const a = client('a');
  const b = client('b');

  it('uploads a multipart file and reads it back byte-exact', async () => {
    const c = await a.containers.create({ name: 'cf' });
    const bytes = randomBytes(123_457);
    const f = await a.containers.files.create(c.id, { file: await toFile(bytes, 'data.bin') });
    expect(f).toMatchObject({ object: 'container.file', bytes: bytes.length, container_id: c.id, path: '/mnt/data/data.bin', source: 'user' });
    // Our extension: the name alone, as code written for LiteLLM's gateway opens `file.filename`.
    expect((f as typeof f & { filename: string }).filename).toBe('data.bin');
    expect(f.id).toMatch(/^cfile_[0-9a-f]{48}$/);
    expect(await a.containers.files.retrieve(f.id, { container_id: c.id })).toEqual(f);
    const content = Buffer.from(await (await a.containers.files.content.retrieve(f.id, { container_id: c.id })).arrayBuffer());
    expect(content.equals(bytes)).toBe(true);
  });

  it('file_ids at creation appear as user files; JSON file_id copies a Files API file', async () => {
    const csv = Buffer.from('a,b\n1,2\n');
    const file = await a.files.create({ file: await toFile(csv, 'input.csv'), purpose: 'user_data' });
    const c = await a.containers.create({ name: 'with-files', file_ids: [file.id] });
    const listed = (await a.containers.files.list(c.id)).data;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ path: '/mnt/data/input.csv', filename: 'input.csv', source: 'user', bytes: csv.length });

    const other = await a.files.create({ file: await toFile(Buffer.from('{"k":1}'), 'conf.json'), purpose: 'user_data' });
    const copied = await a.containers.files.create(c.id, { file_id: other.id });
    expect(copied).toMatchObject({ path: '/mnt/data/conf.json', source: 'user', bytes: 7 });
    // The copy is independent of the original.
    await a.files.delete(other.id);
    const body = await (await a.containers.files.content.retrieve(copied.id, { container_id: c.id })).text();
    expect(body).toBe('{"k":1}');
  });

  it('uploading the same filename replaces the file at that path', async () => {
    const c = await a.containers.create({ name: 'replace' });
    const first = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('v1'), 'same.txt') });
    const second = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('version 2'), 'same.txt') });
    const all = (await a.containers.files.list(c.id)).data;
    expect(all.map((f) => f.id)).toEqual([second.id]);
    await expect(a.containers.files.retrieve(first.id, { container_id: c.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const body = await (await a.containers.files.content.retrieve(second.id, { container_id: c.id })).text();
    expect(body).toBe('version 2');
  });

  it('paginates container files and deletes one', async () => {
    const c = await a.containers.create({ name: 'many' });
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await a.containers.files.create(c.id, { file: await toFile(Buffer.from(`${i}`), `f${i}.txt`) })).id);
    const seen: string[] = [];
    for await (const f of a.containers.files.list(c.id, { limit: 2, order: 'asc' })) seen.push(f.id);
    expect(seen).toEqual(made);
    const del = await raw('DELETE', `/v1/containers/${c.id}/files/${made[0]}`);
    expect(del.json).toEqual({ id: made[0], object: 'container.file.deleted', deleted: true });
    await expect(a.containers.files.retrieve(made[0]!, { container_id: c.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('another key cannot read, delete or copy into its container', async () => {
    const c = await a.containers.create({ name: 'iso' });
    const f = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('mine'), 'mine.txt') });
    await expect(b.containers.files.retrieve(f.id, { container_id: c.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b.containers.files.content.retrieve(f.id, { container_id: c.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(b.containers.files.delete(f.id, { container_id: c.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // B's own container cannot pull A's Files API file.
    const aFile = await a.files.create({ file: await toFile(Buffer.from('a only'), 'a.txt'), purpose: 'user_data' });
    const bc = await b.containers.create({ name: 'thief' });
    await expect(b.containers.files.create(bc.id, { file_id: aFile.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await b.containers.files.list(bc.id)).data).toHaveLength(0);
  });

  it('400 for JSON without file_id, and for a file name that walks out of /mnt/data', async () => {
    const c = await a.containers.create({ name: 'bad' });
    const noId = await raw('POST', `/v1/containers/${c.id}/files`, { body: {} });
    expect(noId.status).toBe(400);
    expectOpenAIError(noId.json, 'file_id');
    const form = new FormData();
    form.set('file', new Blob([Buffer.from('x')]), '..');
    const res = await fetch(`${process.env.CIBOX_BASE_URL}/v1/containers/${c.id}/files`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}` },
    });
    expect(res.status).toBe(400);
    expect((await a.containers.files.list(c.id)).data).toHaveLength(0);
  });

  it('404 for an unknown container', async () => {
    await expect(a.containers.files.list('cntr_doesnotexist')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
