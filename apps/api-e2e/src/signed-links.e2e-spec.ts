import { toFile } from 'openai';
import { tenantOf } from '@cibox/config';
import { signedFileUrl } from '@cibox/contracts';
import { baseUrl, client, expectOpenAIError } from './support/clients';
import { execute } from './support/executions';

/** A link as the api's FileLinks signs it, for the tenant of key A or B, expiring `ttlS` from now. */
function link(tenant: 'a' | 'b', containerId: string, fileId: string, ttlS = 3600, expires = Math.floor(Date.now() / 1000) + ttlS): string {
  const key = tenant === 'a' ? process.env.CIBOX_KEY_A! : process.env.CIBOX_KEY_B!;
  return signedFileUrl(process.env.CIBOX_SIGNING_SECRET!, baseUrl(), { tenant: tenantOf(key), containerId, fileId, expires });
}

/** The same link with some of its parts changed. */
function tampered(url: string, change: { containerId?: string; fileId?: string; expires?: string; signature?: string | null }): string {
  const u = new URL(url);
  const [, , containerId, , fileId] = u.pathname.split('/').slice(1);
  u.pathname = `/v1/containers/${change.containerId ?? containerId}/files/${change.fileId ?? fileId}/content`;
  if (change.expires !== undefined) u.searchParams.set('expires', change.expires);
  if (change.signature === null) u.searchParams.delete('signature');
  else if (change.signature !== undefined) u.searchParams.set('signature', change.signature);
  return u.toString();
}

/** Plain fetch, as a browser loading an <img>: no key. */
async function open(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  let json: any = null;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    /* the file itself */
  }
  return { status: res.status, headers: res.headers, body, json };
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('signed links to container file content', () => {
  const a = client('a');
  const b = client('b');

  it('a chart a cell drew opens through a signed link with plain fetch and no key, as an image a browser caches privately', async () => {
    const c = await a.containers.create({ name: 'chart' });
    const run = await execute(c.id, 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()');
    const image = run.results.find((r) => r.type === 'image');
    if (image?.type !== 'image') throw new Error(`no image in ${JSON.stringify(run)}`);
    const file = run.files.find((f) => f.id === image.file_id) as (typeof run.files)[number] & { filename: string };
    expect(file.filename).toMatch(/\.png$/);
    expect(file.path).toBe(`/mnt/data/${file.filename}`);

    const res = await open(link('a', c.id, image.file_id));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename*=UTF-8''${encodeURIComponent(file.filename)}`);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(3500);
    expect(maxAge).toBeLessThanOrEqual(3600);
    expect(res.body.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    const viaKey = Buffer.from(await (await a.containers.files.content.retrieve(image.file_id, { container_id: c.id })).arrayBuffer());
    expect(res.body.equals(viaKey)).toBe(true);
  });

  it('an HTML file is a download even through a link, never a page on our origin', async () => {
    const c = await a.containers.create({ name: 'html' });
    const f = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('<script>alert(1)</script>'), 'page.html') });
    const res = await open(link('a', c.id, f.id));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
  });

  describe("a link for tenant A's file opens nothing else once its ids change", () => {
    let url: string;
    let ids: { c1: string; f1: string; f2: string; c2: string; f3: string; bc: string; bf: string };

    beforeAll(async () => {
      const c1 = await a.containers.create({ name: 'links-1' });
      const c2 = await a.containers.create({ name: 'links-2' });
      const bc = await b.containers.create({ name: 'links-b' });
      const up = async (who: typeof a, cid: string, name: string) => (await who.containers.files.create(cid, { file: await toFile(Buffer.from(name), name) })).id;
      ids = { c1: c1.id, f1: await up(a, c1.id, 'one.txt'), f2: await up(a, c1.id, 'two.txt'), c2: c2.id, f3: await up(a, c2.id, 'three.txt'), bc: bc.id, bf: await up(b, bc.id, 'b.txt') };
      url = link('a', ids.c1, ids.f1);
    });

    it('the link itself opens its file', async () => {
      const res = await open(url);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('one.txt');
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    });

    it.each([
      ['another file in the same container', () => ({ fileId: ids.f2 })],
      ["a file in another of A's containers", () => ({ containerId: ids.c2, fileId: ids.f3 })],
      ["B's container and file", () => ({ containerId: ids.bc, fileId: ids.bf })],
      ['a container that does not exist', () => ({ containerId: 'cntr_0000' })],
    ])('403 for %s', async (_name, change) => {
      const res = await open(tampered(url, change()));
      expect(res.status).toBe(403);
      expectOpenAIError(res.json, null);
      expect(res.json.error).toMatchObject({ message: 'Invalid signature.', code: 'invalid_signature' });
    });

    it("403 for a link signed for tenant B that names A's file", async () => {
      const res = await open(link('b', ids.c1, ids.f1));
      expect(res.status).toBe(403);
      expect(res.json.error.message).toBe('Invalid signature.');
    });

    it('403 for a signature with one character changed, and for a missing one', async () => {
      const signature = new URL(url).searchParams.get('signature')!;
      const flipped = await open(tampered(url, { signature: (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1) }));
      expect([flipped.status, flipped.json.error.message]).toEqual([403, 'Invalid signature.']);
      const missing = await open(tampered(url, { signature: null }));
      expect([missing.status, missing.json.error.message]).toEqual([403, 'Invalid signature.']);
    });

    it('401 as before with neither a key nor a link', async () => {
      const res = await open(`${baseUrl()}/v1/containers/${ids.c1}/files/${ids.f1}/content`);
      expect(res.status).toBe(401);
      expectOpenAIError(res.json);
    });

    it('a valid key opens the file whatever the link says, and is not cached as a link is', async () => {
      const res = await open(tampered(url, { signature: 'garbage' }), { authorization: `Bearer ${process.env.CIBOX_KEY_A}` });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('one.txt');
      expect(res.headers.get('cache-control')).toBeNull();
    });

    it("B's key with A's link is B's request: A's file is not found", async () => {
      const res = await open(url, { authorization: `Bearer ${process.env.CIBOX_KEY_B}` });
      expect(res.status).toBe(404);
    });

    it('a link still opens when a stale, unknown key is sent along', async () => {
      const res = await open(url, { authorization: 'Bearer sk-not-a-key' });
      expect(res.status).toBe(200);
    });
  });

  describe('expiry', () => {
    let cid: string;
    let fid: string;
    beforeAll(async () => {
      cid = (await a.containers.create({ name: 'expiry' })).id;
      fid = (await a.containers.files.create(cid, { file: await toFile(Buffer.from('x'), 'x.txt') })).id;
    });

    it('403 "This link has expired." once its time has passed', async () => {
      const res = await open(link('a', cid, fid, 0, Math.floor(Date.now() / 1000) - 1));
      expect(res.status).toBe(403);
      expectOpenAIError(res.json, null);
      expect(res.json.error).toMatchObject({ message: 'This link has expired.', code: 'link_expired' });
    });

    it('an expired link cannot be extended by editing expires', async () => {
      const expired = link('a', cid, fid, 0, Math.floor(Date.now() / 1000) - 1);
      const res = await open(tampered(expired, { expires: String(Math.floor(Date.now() / 1000) + 3600) }));
      expect(res.status).toBe(403);
      expect(res.json.error.message).toBe('Invalid signature.');
    });

    it('a link to a file deleted since is 404, like the key would get', async () => {
      const url = link('a', cid, fid);
      expect((await open(url)).status).toBe(200);
      await a.containers.files.delete(fid, { container_id: cid });
      const res = await open(url);
      expect(res.status).toBe(404);
      expectOpenAIError(res.json);
    });
  });
});
