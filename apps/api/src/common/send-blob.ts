import type { Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Streams a stored blob to the client as raw bytes. */
export async function sendBlob(res: Response, blob: { stream: Readable; size: number }, filename?: string): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(blob.size));
  if (filename) res.setHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`);
  await pipeline(blob.stream, res);
}
