import { loadConfig } from '@cibox/config';
import { PermissionDeniedError } from '@cibox/contracts';
import type { ContainerRecord, ContainerRepository } from '@cibox/storage';
import { FILE_LINK_TTL_S, FileLinks } from './file-links.service';

describe('FileLinks', () => {
  const NOW_S = 1_900_000_000;
  const containers: Record<string, Pick<ContainerRecord, 'id' | 'tenant'>> = {
    cntr_a: { id: 'cntr_a', tenant: 'tn_a' },
    cntr_a2: { id: 'cntr_a2', tenant: 'tn_a' },
    cntr_b: { id: 'cntr_b', tenant: 'tn_b' },
  };
  const repo = { getAny: (id: string) => Promise.resolve((containers[id] as ContainerRecord | undefined) ?? null) } as unknown as ContainerRepository;
  const linksWith = (env: Record<string, string> = {}) => new FileLinks(loadConfig({ SIGNING_SECRET: 'test-secret-0123456789', ...env }), repo);
  const links = linksWith();

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW_S * 1000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** A link's parts, as the content route reads them. */
  const parse = (link: string) => {
    const url = new URL(link);
    const [, containerId, fileId] = /^\/v1\/containers\/([^/]+)\/files\/([^/]+)\/content$/.exec(url.pathname) ?? [];
    return { url, containerId: containerId!, fileId: fileId!, expires: url.searchParams.get('expires')!, signature: url.searchParams.get('signature')! };
  };
  const verify = (p: { containerId: string; fileId: string; expires: unknown; signature: unknown }) => links.verify(p.containerId, p.fileId, p.expires, p.signature);
  const rejection = (message: string, code: string) => expect.objectContaining({ status: 403, message, code });

  it('signs an absolute URL on the origin given, with expires one hour ahead by default', async () => {
    const p = parse(links.sign('tn_a', 'cntr_a', 'cfile_1', 'http://127.0.0.1:8080'));
    expect(p.url.origin).toBe('http://127.0.0.1:8080');
    expect(p.url.pathname).toBe('/v1/containers/cntr_a/files/cfile_1/content');
    expect([...p.url.searchParams.keys()]).toEqual(['expires', 'signature']);
    expect(Number(p.expires)).toBe(NOW_S + FILE_LINK_TTL_S);
    expect(FILE_LINK_TTL_S).toBe(3600);
    await expect(verify(p)).resolves.toEqual({ tenant: 'tn_a', expires: NOW_S + 3600 });
  });

  it('builds on PUBLIC_BASE_URL when set, whatever the request origin', () => {
    const link = linksWith({ PUBLIC_BASE_URL: 'https://ci.example.com/api/' }).sign('tn_a', 'cntr_a', 'cfile_1', 'http://10.0.0.5:8080');
    expect(link.startsWith('https://ci.example.com/api/v1/containers/cntr_a/files/cfile_1/content?expires=')).toBe(true);
  });

  it('honours a custom ttl, and refuses a ttl that is not a positive integer', () => {
    expect(Number(parse(links.sign('tn_a', 'cntr_a', 'f', 'http://h', 60)).expires)).toBe(NOW_S + 60);
    expect(() => links.sign('tn_a', 'cntr_a', 'f', 'http://h', 0)).toThrow(RangeError);
    expect(() => links.sign('tn_a', 'cntr_a', 'f', 'http://h', 1.5)).toThrow(RangeError);
  });

  it('opens until the second it expires, then says the link has expired', async () => {
    const p = parse(links.sign('tn_a', 'cntr_a', 'cfile_1', 'http://h', 10));
    jest.setSystemTime((NOW_S + 9) * 1000);
    await expect(verify(p)).resolves.toMatchObject({ tenant: 'tn_a' });
    jest.setSystemTime((NOW_S + 10) * 1000);
    await expect(verify(p)).rejects.toEqual(rejection('This link has expired.', 'link_expired'));
  });

  describe('refuses a link with any field changed', () => {
    const original = () => parse(links.sign('tn_a', 'cntr_a', 'cfile_1', 'http://h'));
    const cases: [string, (p: ReturnType<typeof original>) => Partial<ReturnType<typeof original>>][] = [
      ['another file id', () => ({ fileId: 'cfile_2' })],
      ["another container of the same tenant", () => ({ containerId: 'cntr_a2' })],
      ["another tenant's container", () => ({ containerId: 'cntr_b' })],
      ['an unknown container', () => ({ containerId: 'cntr_gone' })],
      ['expires moved later', (p) => ({ expires: String(Number(p.expires) + 3600) })],
      ['expires moved earlier (still in the future)', (p) => ({ expires: String(Number(p.expires) - 1) })],
      ['one character of the signature', (p) => ({ signature: (p.signature[0] === 'A' ? 'B' : 'A') + p.signature.slice(1) })],
      ['the signature cut short', (p) => ({ signature: p.signature.slice(0, -1) })],
      ['an empty signature', () => ({ signature: '' })],
      ['no signature', () => ({ signature: undefined })],
      ['no expires', () => ({ expires: undefined })],
      ['a repeated parameter (an array)', (p) => ({ signature: [p.signature, p.signature] as unknown as string })],
      ['expires that is not a whole number', (p) => ({ expires: `${p.expires}.0` })],
    ];
    it.each(cases)('%s', async (_name, change) => {
      const p = original();
      await expect(verify(p)).resolves.toMatchObject({ tenant: 'tn_a' });
      await expect(verify({ ...p, ...change(p) })).rejects.toEqual(rejection('Invalid signature.', 'invalid_signature'));
    });

    it('a link signed for another tenant than the container owner', async () => {
      const p = parse(links.sign('tn_b', 'cntr_a', 'cfile_1', 'http://h'));
      await expect(verify(p)).rejects.toBeInstanceOf(PermissionDeniedError);
    });

    it('a link signed under another secret (another installation)', async () => {
      const p = parse(linksWith({ SIGNING_SECRET: 'another-secret-0123456789' }).sign('tn_a', 'cntr_a', 'cfile_1', 'http://h'));
      await expect(verify(p)).rejects.toEqual(rejection('Invalid signature.', 'invalid_signature'));
    });
  });

  it('without SIGNING_SECRET, links of one process do not open in another', async () => {
    const p = parse(new FileLinks(loadConfig({}), repo).sign('tn_a', 'cntr_a', 'cfile_1', 'http://h'));
    await expect(new FileLinks(loadConfig({}), repo).verify(p.containerId, p.fileId, p.expires, p.signature)).rejects.toBeInstanceOf(PermissionDeniedError);
  });
});
