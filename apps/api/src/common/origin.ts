import type { Request } from 'express';

/** The origin a client reached us at (scheme and Host), for links in replies. */
export function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
