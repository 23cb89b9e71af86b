import { crossSite, presentedKey } from './admin-gate';

const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

describe('presentedKey', () => {
  it.each([
    ['a bearer token', 'Bearer admin-0123456789abcdef', 'admin-0123456789abcdef'],
    ['a basic-auth password', basic('admin:admin-0123456789abcdef'), 'admin-0123456789abcdef'],
    ['a basic-auth password with a colon in it', basic('ops:key:with:colons'), 'key:with:colons'],
    ['a basic-auth password with no user name', basic(':admin-0123456789abcdef'), 'admin-0123456789abcdef'],
  ])('reads %s', (_name, header, key) => {
    expect(presentedKey(header)).toBe(key);
  });

  it.each([
    ['no header', undefined],
    ['basic credentials without a colon', basic('admin-0123456789abcdef')],
    ['basic credentials that are not base64', 'Basic !!!'],
    ['another scheme', 'Digest username="admin"'],
    ['a bearer token with a space in it', 'Bearer two words'],
  ])('finds no key in %s', (_name, header) => {
    expect(presentedKey(header)).toBeNull();
  });
});

describe('crossSite', () => {
  const req = (headers: Record<string, string>) => ({ headers: { host: 'ci.example.com', ...headers } });

  it.each([
    ['a client that is not a browser', {}, false],
    ['the page itself', { 'sec-fetch-site': 'same-origin', origin: 'https://ci.example.com' }, false],
    ['an address typed in the bar', { 'sec-fetch-site': 'none' }, false],
    ['the page itself behind a proxy that rewrites Host', { 'sec-fetch-site': 'same-origin', origin: 'https://dashboard.example.org' }, false],
    ['another site', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, true],
    ['a sibling subdomain', { 'sec-fetch-site': 'same-site', origin: 'https://evil.example.com' }, true],
    ['an old browser on another origin', { origin: 'https://evil.example' }, true],
    ['an opaque origin', { origin: 'null' }, true],
  ])('tells %s', (_name, headers, expected) => {
    expect(crossSite(req(headers))).toBe(expected);
  });
});
