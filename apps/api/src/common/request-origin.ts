import type { Request } from 'express';

// A host name, IPv4 or bracketed IPv6 address, and an optional port: nothing that could end the
// authority of a URL and move a link elsewhere (no '/', '@', '?', '#' or white space).
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The origin a client reached the api at (`http://127.0.0.1:8080`), for links in replies; FileLinks
 * prefers PUBLIC_BASE_URL when it is set. Protocol and host are Express's `req.protocol` and
 * `req.host`: with `trust proxy` off (our setting) they come from the socket and the Host header, and
 * X-Forwarded-Proto/-Host are ignored, since without a proxy that overwrites them any client could
 * send them. Behind a reverse proxy, set PUBLIC_BASE_URL.
 */
export function requestOrigin(req: Request): string {
  const host = req.host;
  return `${req.protocol}://${typeof host === 'string' && HOST.test(host) ? host : `localhost:${req.socket.localPort ?? 80}`}`;
}
