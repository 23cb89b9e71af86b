import { newId, type BatchResultLine } from '@cibox/contracts';
import type { BatchLineOutcome, BatchRecord } from '@cibox/storage';
import type { BatchLineReply } from './batch-endpoints.service';

/**
 * The longest line of an input file we read: a body as large as the routes take (4 MiB of JSON)
 * with the line's envelope around it. A longer line is an error of its own, never held whole.
 */
export const MAX_LINE_BYTES = 4 * 1024 * 1024 + 64 * 1024;

const line = (customId: string | null, response: BatchResultLine['response'], error: BatchResultLine['error']): string =>
  JSON.stringify({ id: newId('batchRequest'), custom_id: customId, response, error } satisfies BatchResultLine);

/** A request that ran: a 2xx reply goes to the output file, any other to the error file. */
export function replyOutcome(customId: string, reply: BatchLineReply): BatchLineOutcome {
  const ok = reply.status >= 200 && reply.status < 300;
  return {
    file: ok ? 'output' : 'error',
    json: line(customId, { status_code: reply.status, request_id: newId('request'), body: reply.body }, null),
    count: ok ? 'completed' : 'failed',
    usage: reply.usage,
  };
}

/** A line that could not run, with its line number in the input file. */
export function lineErrorOutcome(customId: string | null, lineNumber: number, code: string, message: string): BatchLineOutcome {
  return { file: 'error', json: line(customId, null, { code, message, line: lineNumber }), count: 'failed', usage: null };
}

/** A request the window closed on before it ran (as OpenAI reports one). */
export function expiredOutcome(customId: string | null, lineNumber: number): BatchLineOutcome {
  return lineErrorOutcome(customId, lineNumber, 'batch_expired', 'This request could not be executed before the completion window expired.');
}

export function pastWindow(batch: Pick<BatchRecord, 'expires_at'>, nowSec: number): boolean {
  return nowSec >= batch.expires_at;
}

/** A line with nothing but white space: skipped, not a request. */
export function isBlank(bytes: Buffer | null): boolean {
  return bytes !== null && bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d);
}
