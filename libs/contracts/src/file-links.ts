import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signed link to a container file's content vouches for. */
export interface FileLinkClaims {
  /** The tenant that owns the container: inside the MAC, so a link never opens another tenant's file. */
  tenant: string;
  containerId: string;
  fileId: string;
  /** Unix seconds from which the link no longer opens the file. */
  expires: number;
}

/** HMAC-SHA256 of the claims under the server's secret, base64url (43 characters). */
export function fileLinkSignature(secret: string, c: FileLinkClaims): string {
  // The JSON of an array is unambiguous whatever the ids contain, so no two claims share a message;
  // the label keeps this MAC apart from anything else the same secret may sign.
  const message = JSON.stringify(['cibox.file-link.v1', c.tenant, c.containerId, c.fileId, c.expires]);
  return createHmac('sha256', secret).update(message).digest('base64url');
}

/**
 * The absolute URL of the file's content route carrying the claims as `expires` and `signature`;
 * `baseUrl` is an origin (and optional path prefix) without a trailing slash or `/v1`.
 */
export function signedFileUrl(secret: string, baseUrl: string, c: FileLinkClaims): string {
  const path = `/v1/containers/${encodeURIComponent(c.containerId)}/files/${encodeURIComponent(c.fileId)}/content`;
  const query = new URLSearchParams({ expires: String(c.expires), signature: fileLinkSignature(secret, c) });
  return `${baseUrl}${path}?${query.toString()}`;
}

export type FileLinkCheck = 'valid' | 'expired' | 'invalid';

/**
 * Checks a link: its signature first, in constant time, then its expiry, so only a genuine link is
 * ever told that it expired.
 */
export function checkFileLink(secret: string, c: FileLinkClaims, signature: string, nowS: number): FileLinkCheck {
  const expected = Buffer.from(fileLinkSignature(secret, c));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return nowS < c.expires ? 'valid' : 'expired';
}
