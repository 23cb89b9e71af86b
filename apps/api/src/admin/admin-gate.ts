import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthenticationError, PermissionDeniedError } from '@cibox/contracts';
import { toErrorResponse } from '../common/api-error.filter';
import { sameSecret } from '../common/same-secret';

/**
 * The dashboard page's policy: its scripts, styles and data come from here. Styles may be inline
 * (its loading screen and its components set them); its web font link to Google is refused.
 * `base-uri 'self'`: the page sets `<base href>` to its own path.
 */
const DASHBOARD_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The realm browsers show in their sign-in prompt; any user name goes with the key as password. */
const CHALLENGE = 'Basic realm="cibox admin", charset="UTF-8"';

/** The key a request presents: `Authorization: Bearer <key>`, or basic auth's password. */
export function presentedKey(authorization: string | undefined): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+([A-Za-z0-9+/]+={0,2})$/i.exec(authorization ?? '');
  if (!basic) return null;
  const pair = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  return colon === -1 ? null : pair.slice(colon + 1);
}

/**
 * Whether a browser sent this request from another site. Basic-auth credentials, like cookies,
 * ride along on requests that other pages make, so a change asked from elsewhere is refused.
 * A browser's `Sec-Fetch-Site` is trusted alone: comparing Origin with Host would refuse the page
 * itself behind a proxy that rewrites Host. Only browsers too old to send it are judged by Origin.
 * Clients that are not browsers send neither header.
 */
export function crossSite(req: Pick<Request, 'headers'>): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function refuse(res: Response, err: Error, challenge: boolean): void {
  const { status, body } = toErrorResponse(err);
  if (challenge) res.setHeader('WWW-Authenticate', CHALLENGE);
  res.status(status).json(body);
}

/**
 * Express middleware in front of the admin pages: only `ADMIN_KEY` opens them (a tenant's key does
 * not), as a bearer token or as a browser's basic-auth password, never in the URL, where access
 * logs would keep it. Every reply carries the page's content policy and is not cached.
 */
export function adminGate(adminKey: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    const key = presentedKey(req.headers.authorization);
    if (key === null) return refuse(res, new AuthenticationError('The queue dashboard needs the admin key: `Authorization: Bearer <ADMIN_KEY>`, or sign in with it as the password.'), true);
    if (!sameSecret(key, adminKey)) return refuse(res, new AuthenticationError('Incorrect admin key.'), true);
    if (!SAFE_METHODS.has(req.method) && crossSite(req)) return refuse(res, new PermissionDeniedError('Changes to queues are only taken from the dashboard itself.', 'cross_site_request'), false);
    next();
  };
}
