import { NonPublicAddressError, assertPublicUrl, nonPublicKind, publicOnlyLookup } from './public-address';

describe('nonPublicKind', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'private (unique local)'],
    ['fd12:3456::1', 'private (unique local)'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:0101::1', 'private'],
    ['2001:db8::1', 'documentation'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(nonPublicKind(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '192.169.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'accepts the public address %s',
    (address) => {
      expect(nonPublicKind(address)).toBeNull();
    },
  );

  it('does not take a host name for an address', () => {
    expect(nonPublicKind('example.com')).toBe('not an IP address');
  });
});

describe('assertPublicUrl', () => {
  const resolver = (map: Record<string, string[]>) => (host: string) => Promise.resolve(map[host] ?? []);

  it('accepts a name whose every address is public', async () => {
    await expect(assertPublicUrl(new URL('https://hooks.example/x'), resolver({ 'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'] }))).resolves.toBeUndefined();
  });

  it('refuses a name with one private address among public ones, naming it', async () => {
    const check = assertPublicUrl(new URL('https://hooks.example/x'), resolver({ 'hooks.example': ['93.184.216.34', '10.0.0.7'] }));
    await expect(check).rejects.toThrow(NonPublicAddressError);
    await expect(check).rejects.toThrow('hooks.example resolves to 10.0.0.7, a private address');
  });

  it.each(['http://127.0.0.1:8080/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/x', 'http://0x7f000001/x'])(
    'refuses the literal address of %s without resolving it',
    async (url) => {
      const resolve = jest.fn();
      await expect(assertPublicUrl(new URL(url), resolve)).rejects.toThrow(NonPublicAddressError);
      expect(resolve).not.toHaveBeenCalled();
    },
  );

  it('passes a DNS failure on as it is', async () => {
    const failing = () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }));
    await expect(assertPublicUrl(new URL('https://nowhere.invalid/'), failing)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('publicOnlyLookup', () => {
  const lookup = (host: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) => publicOnlyLookup(host, { all }, (err, address) => resolve({ err, address })));

  it.each([true, false])('refuses a name that resolves to loopback (all: %s), at connect time', async (all) => {
    const { err } = await lookup('localhost', all);
    expect(err).toBeInstanceOf(NonPublicAddressError);
    expect(err?.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address$/);
  });
});
