import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { ageContainer, client, expectOpenAIError, raw } from './support/clients';
import { execute } from './support/executions';

describe('Containers API through the official SDK', () => {
  const a = client('a');
  const b = client('b');

  it('creates with defaults, retrieves, and deletes', async () => {
    const c = await a.containers.create({ name: 'basic' });
    expect(c).toMatchObject({
      object: 'container',
      name: 'basic',
      status: 'running',
      memory_limit: '1g',
      expires_after: { anchor: 'last_active_at', minutes: 20 },
    });
    expect(c.id).toMatch(/^cntr_[0-9a-f]{48}$/);
    expect(typeof c.created_at).toBe('number');
    expect((await a.containers.retrieve(c.id)).id).toBe(c.id);
    const del = await raw('DELETE', `/v1/containers/${c.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id: c.id, object: 'container.deleted', deleted: true });
    await expect(a.containers.retrieve(c.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('accepts memory_limit and expires_after', async () => {
    const c = await a.containers.create({ name: 'big', memory_limit: '4g', expires_after: { anchor: 'last_active_at', minutes: 5 } });
    expect(c).toMatchObject({ memory_limit: '4g', expires_after: { anchor: 'last_active_at', minutes: 5 } });
  });

  it('auto-paginates over several pages in both orders, and filters by name', async () => {
    const name = `page-${randomBytes(4).toString('hex')}`;
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await a.containers.create({ name })).id);
    const page = await a.containers.list({ name, limit: 3, order: 'asc' });
    expect(page.data.map((c) => c.id)).toEqual(made.slice(0, 3));
    expect(page.has_more).toBe(true);
    const envelope = await raw('GET', `/v1/containers?name=${name}&limit=3&order=asc`);
    expect(envelope.json).toMatchObject({ object: 'list', first_id: made[0], last_id: made[2], has_more: true });
    const asc: string[] = [];
    for await (const c of a.containers.list({ name, limit: 3, order: 'asc' })) asc.push(c.id);
    expect(asc).toEqual(made);
    const desc: string[] = [];
    for await (const c of a.containers.list({ name, limit: 2 })) desc.push(c.id);
    expect(desc).toEqual([...made].reverse());
  });

  it('lists only the caller\'s containers, and hides them from other keys', async () => {
    const mine = await a.containers.create({ name: 'private' });
    await expect(b.containers.retrieve(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const del = await raw('DELETE', `/v1/containers/${mine.id}`, { key: process.env.CIBOX_KEY_B! });
    expect(del.status).toBe(404);
    const own = await b.containers.create({ name: 'theirs' });
    const theirs: string[] = [];
    for await (const c of b.containers.list()) theirs.push(c.id);
    expect(theirs).toContain(own.id); // the listing works, and still leaves ours out
    expect(theirs).not.toContain(mine.id);
    await expect(b.containers.files.list(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await a.containers.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('400 naming the field for each invalid body', async () => {
    const cases: [unknown, string][] = [
      [{}, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'x', memory_limit: '2g' }, 'memory_limit'],
      [{ name: 'x', expires_after: { anchor: 'created_at', minutes: 5 } }, 'expires_after.anchor'],
      [{ name: 'x', expires_after: { anchor: 'last_active_at', minutes: 0 } }, 'expires_after.minutes'],
      [{ name: 'x', file_ids: 'file-1' }, 'file_ids'],
    ];
    for (const [body, param] of cases) {
      const res = await raw('POST', '/v1/containers', { body });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expectOpenAIError(res.json, param);
    }
  });

  it('400 for list limit out of range and a bad order', async () => {
    for (const [q, param] of [['limit=101', 'limit'], ['limit=0', 'limit'], ['limit=abc', 'limit'], ['order=up', 'order']]) {
      const res = await raw('GET', `/v1/containers?${q}`);
      expect(res.status).toBe(400);
      expectOpenAIError(res.json, param);
    }
  });

  it('refuses another tenant\'s file_ids and creates nothing', async () => {
    const theirs = await b.files.create({ file: await toFile(Buffer.from('b data'), 'b.txt'), purpose: 'user_data' });
    const name = `steal-${randomBytes(4).toString('hex')}`;
    const err = await a.containers.create({ name, file_ids: [theirs.id] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as any).param).toBe('file_ids.0');
    expect((await a.containers.list({ name })).data).toHaveLength(0);
  });

  it('an expired container stays retrievable but refuses file operations', async () => {
    const c = await a.containers.create({ name: 'short', expires_after: { anchor: 'last_active_at', minutes: 1 } });
    await ageContainer(c.id, 61);
    expect((await a.containers.retrieve(c.id)).status).toBe('expired');
    const err = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('x'), 'x.txt') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain('Container is expired.');
    await expect(a.containers.files.list(c.id)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect((await a.containers.retrieve(c.id)).status).toBe('expired');
  });

  it('refreshes last_active_at on container operations; listing containers does not', async () => {
    const name = `touch-${randomBytes(4).toString('hex')}`;
    const c = await a.containers.create({ name });
    // Read through the list, which leaves the idle clock alone (retrieve would refresh it).
    const listed = async () => (await a.containers.list({ name })).data[0]!.last_active_at!;
    await ageContainer(c.id, 300);
    expect(await listed()).toBe(c.last_active_at! - 300);
    await a.containers.files.list(c.id);
    expect(await listed()).toBeGreaterThanOrEqual(c.last_active_at!);
    await ageContainer(c.id, 300);
    expect(await listed()).toBeLessThan(c.last_active_at!);
    expect((await execute(c.id, '1')).status).toBe('completed');
    expect(await listed()).toBeGreaterThanOrEqual(c.last_active_at!);
  });
});
