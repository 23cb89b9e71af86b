/**
 * The newline-delimited JSON protocol of the in-container runner (libs/sandbox/image/runner.py).
 *
 * User code shares the runner's process, so it can write anything to the protocol channel: every
 * message the worker reads is parsed against the schemas below before use, and one that fails them
 * is a protocol violation that ends the session (never the worker).
 */
import { z } from 'zod';

export type KernelRequest =
  | { type: 'exec'; id: string; code: string; max_output_bytes: number }
  | { type: 'interrupt' }
  | { type: 'ping' }
  | { type: 'put_file'; path: string; data: string; append?: boolean }
  | { type: 'get_file'; path: string }
  | { type: 'delete_file'; path: string };

/** Bounds on what a well-behaved runner sends; far above any real message. */
export const PROTOCOL_LIMITS = {
  idChars: 64,
  pathChars: 4096,
  /** Changed or deleted files one `done` may report (the runner's snapshot stops at 50,000). */
  files: 50_000,
  tracebackLines: 10_000,
  errorTextChars: 1024 * 1024,
} as const;

const id = z.string().min(1).max(PROTOCOL_LIMITS.idChars);
const path = z.string().min(1).max(PROTOCOL_LIMITS.pathChars);
const errorText = z.string().max(PROTOCOL_LIMITS.errorTextChars);
/** Standard base64; Node's decoder would otherwise skip junk silently. */
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'is not base64');

const kernelError = z.object({
  name: z.string().max(1024),
  value: errorText,
  traceback: z.array(errorText).max(PROTOCOL_LIMITS.tracebackLines),
});

const doneSchema = z.object({
  type: z.literal('done'),
  id,
  status: z.enum(['ok', 'error']),
  error: kernelError.nullable(),
  files: z.array(z.object({ path, size: z.number().int().nonnegative() })).max(PROTOCOL_LIMITS.files),
  deleted: z.array(path).max(PROTOCOL_LIMITS.files),
  truncated: z.object({ stdout: z.boolean(), stderr: z.boolean() }),
  execution_count: z.number().int().optional(),
});

/** Output between cells (a background thread) carries the previous cell's id, or none. */
const streamSchema = z.object({ type: z.enum(['stdout', 'stderr']), id: id.nullable(), text: z.string() });

export const kernelMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), python: z.string().max(64), ipython: z.string().max(64) }),
  streamSchema.extend({ type: z.literal('stdout') }),
  streamSchema.extend({ type: z.literal('stderr') }),
  z.object({ type: z.literal('result'), id, text: z.string() }),
  z.object({ type: z.literal('image'), id, format: z.literal('png'), data: base64 }),
  doneSchema,
  /** The runner got an `exec` while a cell was still running: the `done` we acted on was forged. */
  z.object({ type: z.literal('busy'), id }),
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('put_file_done'), path, error: errorText.optional() }),
  z.object({ type: z.literal('delete_file_done'), path, error: errorText.optional() }),
  z.object({ type: z.literal('file_chunk'), path, data: base64.optional(), eof: z.boolean().optional(), error: errorText.optional() }),
  z.object({ type: z.literal('error'), message: errorText }),
]);

export type KernelMessage = z.infer<typeof kernelMessageSchema>;
export type KernelDone = z.infer<typeof doneSchema>;
export type KernelError = z.infer<typeof kernelError>;

/** Events of one cell, in the order the runner emits them; a figure arrives as checked PNG bytes. */
export type CellEvent =
  | { type: 'stdout' | 'stderr'; text: string }
  | { type: 'result'; text: string }
  | { type: 'image'; png: Buffer };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_IEND = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** A PNG starts with its signature and an IHDR chunk, and ends with an empty IEND chunk. */
export function isPng(data: Buffer): boolean {
  return (
    data.length >= PNG_SIGNATURE.length + 25 + PNG_IEND.length &&
    data.subarray(0, 8).equals(PNG_SIGNATURE) &&
    data.subarray(12, 16).toString('latin1') === 'IHDR' &&
    data.subarray(data.length - PNG_IEND.length).equals(PNG_IEND)
  );
}
