import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where `tools/playground.ts` builds the page: dist/playground, beside this app's dist/apps/api/src. */
export const PLAYGROUND_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'playground');

/**
 * The page's own policy: its scripts and styles come from here only, and it talks only to this api.
 * Images are also allowed from anywhere over http(s), since signed links to figures are built on
 * `PUBLIC_BASE_URL`, which may not be this origin; `blob:` is for files fetched with the key.
 * `connect-src data:` lets the openai package probe its FormData support (`fetch('data:,')`)
 * before an upload; a data: URL reaches no server.
 */
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data: http: https:",
  "connect-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Only the page and its hashed assets: API paths never touch the disk. */
const isPagePath = (p: string) => p === '/' || p === '/index.html' || p.startsWith('/assets/');

/**
 * Express middleware, after the root path alias and before Nest's router: serves the playground's
 * built page at `/` and its assets under `/assets/`. Returns null when the page was not built.
 */
export function servePlayground(dir = PLAYGROUND_DIR): RequestHandler | null {
  if (!existsSync(path.join(dir, 'index.html'))) return null;
  const files = express.static(dir, {
    index: 'index.html',
    fallthrough: true,
    redirect: false,
    setHeaders(res, file) {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (file.endsWith('.html')) {
        res.setHeader('Content-Security-Policy', PAGE_POLICY);
        res.setHeader('Cache-Control', 'no-cache');
      } else {
        // File names carry a hash of their content.
        res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      }
    },
  });
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isPagePath(req.path)) return next();
    files(req, res, next);
  };
}
