import OpenAI, { toFile } from 'openai';
import { baseUrl, client, expectOpenAIError, storedObjectKeys } from './support/clients';
import { execute } from './support/executions';

/** File names: sent as UTF-8, read back as sent, one rule for the Files API and container files. */
describe('file names', () => {
  const a = client('a');
  const unicode = ['ü.txt', '数据.csv'];

  it('keeps UTF-8 names through the Files API: create, retrieve, list', async () => {
    for (const name of unicode) {
      const f = await a.files.create({ file: await toFile(Buffer.from('x'), name), purpose: 'user_data' });
      expect(f.filename).toBe(name);
      expect((await a.files.retrieve(f.id)).filename).toBe(name);
      const listed = (await a.files.list({ purpose: 'user_data', limit: 100 })).data.find((x) => x.id === f.id);
      expect(listed?.filename).toBe(name);
    }
  });

  it('keeps UTF-8 names in a container: upload, file_ids, file_id copy, list, and /mnt/data itself', async () => {
    const uploaded = 'ü.txt';
    const fromIds = '数据.csv';
    const copied = 'Ωmega ñ.json';
    const viaIds = await a.files.create({ file: await toFile(Buffer.from('a,b\n'), fromIds), purpose: 'user_data' });
    const toCopy = await a.files.create({ file: await toFile(Buffer.from('{}'), copied), purpose: 'user_data' });
    const c = await a.containers.create({ name: 'utf8-names', file_ids: [viaIds.id] });
    const up = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('hi'), uploaded) });
    expect(up.path).toBe(`/mnt/data/${uploaded}`);
    expect((await a.containers.files.retrieve(up.id, { container_id: c.id })).path).toBe(`/mnt/data/${uploaded}`);
    const cp = await a.containers.files.create(c.id, { file_id: toCopy.id });
    expect(cp.path).toBe(`/mnt/data/${copied}`);
    const paths = (await a.containers.files.list(c.id)).data.map((f) => f.path).sort();
    const expected = [uploaded, fromIds, copied].map((n) => `/mnt/data/${n}`).sort();
    expect(paths).toEqual(expected);

    const exec = await execute(c.id, "import os, json; print(json.dumps(sorted(os.listdir('/mnt/data'))))");
    expect(exec.status).toBe('completed');
    expect(JSON.parse(exec.stdout)).toEqual([uploaded, fromIds, copied].sort());
  });

  const bad: [string, string][] = [
    ['.', "must not be '.' or '..'"],
    ['..', "must not be '.' or '..'"],
    ['300 characters', 'must be at most 255 bytes'],
    ['a leading space', 'white space'],
    ['a tab', 'control characters'],
  ];
  const nameOf: Record<string, string> = {
    '300 characters': 'n'.repeat(300),
    'a leading space': ' lead.txt',
    'a tab': 'tab\there.txt',
  };
  const name = (label: string) => nameOf[label] ?? label;

  describe.each(['Files API', 'container files'])('%s refuse a bad name with 400 and store nothing', (endpoint) => {
    let containerId: string;
    let before: { files: string[]; objects: string[] };
    const fileIds = async () => (await a.files.list({ limit: 10_000 })).data.map((f) => f.id).sort();

    beforeAll(async () => {
      containerId = (await a.containers.create({ name: 'bad-names' })).id;
      before = { files: await fileIds(), objects: await storedObjectKeys() };
    });

    it.each(bad)('%s (through the SDK)', async (label, why) => {
      const file = await toFile(Buffer.from('x'), name(label));
      const attempt =
        endpoint === 'Files API' ? a.files.create({ file, purpose: 'user_data' }) : a.containers.files.create(containerId, { file });
      const err = await attempt.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
        type: 'invalid_request_error',
        param: 'file',
        code: 'invalid_file_name',
        message: expect.stringContaining(why),
      });
    });

    // The SDK sends only a path's last segment, so these go as raw multipart.
    it.each([
      ['a path (dir/x.txt)', 'dir/x.txt'],
      ['a Windows path', 'C:\\fakepath\\x.txt'],
    ])('%s (raw multipart)', async (_label, filename) => {
      const form = new FormData();
      if (endpoint === 'Files API') form.set('purpose', 'user_data');
      form.set('file', new Blob([Buffer.from('x')]), filename);
      const path = endpoint === 'Files API' ? '/v1/files' : `/v1/containers/${containerId}/files`;
      const res = await fetch(`${baseUrl()}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}` } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string } };
      expectOpenAIError(body, 'file');
      expect(body.error.message).toContain('must not contain /');
    });

    it('left nothing behind', async () => {
      expect(await fileIds()).toEqual(before.files);
      expect((await a.containers.files.list(containerId)).data).toEqual([]);
      expect(await storedObjectKeys()).toEqual(before.objects);
    });
  });

  it('a Files API file stored before the rule, with a name the rule refuses, is never copied into a container', async () => {
    const f = await a.files.create({ file: await toFile(Buffer.from('old'), 'legacy.txt'), purpose: 'user_data' });
    await renameStoredFile(f.id, '..');
    const containersBefore = (await a.containers.list({ limit: 100 })).data.length;
    const create = await a.containers.create({ name: 'legacy', file_ids: [f.id] }).catch((e: unknown) => e);
    expect(create).toBeInstanceOf(OpenAI.BadRequestError);
    expect(create).toMatchObject({ param: 'file_ids.0', code: 'invalid_file_name' });
    expect((await a.containers.list({ limit: 100 })).data).toHaveLength(containersBefore);

    const c = await a.containers.create({ name: 'legacy-copy' });
    const copy = await a.containers.files.create(c.id, { file_id: f.id }).catch((e: unknown) => e);
    expect(copy).toBeInstanceOf(OpenAI.BadRequestError);
    expect(copy).toMatchObject({ param: 'file_id', code: 'invalid_file_name' });
    expect((await a.containers.files.list(c.id)).data).toEqual([]);
  });
});

/** Rewrites a stored file's name behind the api's back, as a record from an older version would read. */
async function renameStoredFile(id: string, filename: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.CIBOX_REDIS_URL!);
  try {
    const key = `cibox:file:${id}`;
    const record = JSON.parse((await redis.get(key))!) as { filename: string };
    record.filename = filename;
    await redis.set(key, JSON.stringify(record));
  } finally {
    await redis.quit();
  }
}
