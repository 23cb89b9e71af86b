import type { Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Types a browser may show inline (in an <img> or a tab), by extension: images and plain data.
 * Anything else, HTML above all, stays a download, since it would run on the api's origin.
 */
const INLINE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
};

/** The inline type of a file name, or null for one served as an opaque download. */
export function inlineContentType(filename: string): string | null {
  const dot = filename.lastIndexOf('.');
  return dot < 0 ? null : (INLINE_TYPES[filename.slice(dot + 1).toLowerCase()] ?? null);
}

export interface BlobReply {
  filename?: string;
  /** Serve a known image or text type as itself and inline, not as a download. */
  typeByExtension?: boolean;
  cacheControl?: string;
}

/** Streams a stored blob to the client as raw bytes. */
export async function sendBlob(res: Response, blob: { stream: Readable; size: number }, reply: BlobReply = {}): Promise<void> {
  const inline = reply.typeByExtension && reply.filename ? inlineContentType(reply.filename) : null;
  res.status(200);
  res.setHeader('Content-Type', inline ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(blob.size));
  // User content: never sniffed into another type, and an SVG opened in a tab runs no script.
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
  if (reply.cacheControl) res.setHeader('Cache-Control', reply.cacheControl);
  if (reply.filename) {
    res.setHeader('Content-Disposition', `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(reply.filename)}`);
  }
  await pipeline(blob.stream, res);
}
