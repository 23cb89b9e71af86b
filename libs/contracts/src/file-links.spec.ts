import { checkFileLink, fileLinkSignature, signedFileUrl, type FileLinkClaims } from './file-links';

describe('signed file links', () => {
  const secret = 'a-secret-of-at-least-16-chars';
  const claims: FileLinkClaims = { tenant: 'tn_a', containerId: 'cntr_1', fileId: 'cfile_1', expires: 2_000_000_000 };

  it('puts expires and a base64url HMAC-SHA256 on the content route', () => {
    const url = new URL(signedFileUrl(secret, 'https://ci.example.com/prefix', claims));
    expect(url.origin + url.pathname).toBe('https://ci.example.com/prefix/v1/containers/cntr_1/files/cfile_1/content');
    expect(url.searchParams.get('expires')).toBe('2000000000');
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(checkFileLink(secret, claims, url.searchParams.get('signature')!, 1_999_999_999)).toBe('valid');
  });

  it('escapes ids in the path', () => {
    expect(signedFileUrl(secret, 'http://h', { ...claims, fileId: 'a/b?c' })).toContain('/files/a%2Fb%3Fc/content?');
  });

  it('signs fields so that moving text from one field to the next changes the signature', () => {
    const a = fileLinkSignature(secret, { ...claims, containerId: 'cntr_1', fileId: 'x' });
    const b = fileLinkSignature(secret, { ...claims, containerId: 'cntr_', fileId: '1x' });
    const c = fileLinkSignature(secret, { ...claims, tenant: 'tn_acntr_1', containerId: '', fileId: 'x' });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('is expired from the second named by expires, and only a genuine link is told so', () => {
    const sig = fileLinkSignature(secret, claims);
    expect(checkFileLink(secret, claims, sig, claims.expires - 1)).toBe('valid');
    expect(checkFileLink(secret, claims, sig, claims.expires)).toBe('expired');
    expect(checkFileLink(secret, claims, sig.slice(1) + 'A', claims.expires + 10)).toBe('invalid');
  });

  it('refuses a signature under another secret, a truncated one, and an empty one', () => {
    const sig = fileLinkSignature(secret, claims);
    expect(checkFileLink('another-secret-of-16+', claims, sig, 0)).toBe('invalid');
    expect(checkFileLink(secret, claims, sig.slice(0, 42), 0)).toBe('invalid');
    expect(checkFileLink(secret, claims, '', 0)).toBe('invalid');
  });
});
