import { ApiError, type BatchEndpoint } from '@cibox/contracts';

/** A line's request, ready to run. */
export interface BatchRequestLine {
  ok: true;
  customId: string;
  body: Record<string, unknown>;
}

/** Why a line cannot run: what goes in the error file, with its custom_id when it has one. */
export interface BadBatchLine {
  ok: false;
  customId: string | null;
  code: string;
  message: string;
}

export const MAX_CUSTOM_ID_LENGTH = 512;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const bad = (customId: string | null, code: string, message: string): BadBatchLine => ({ ok: false, customId, code, message });

/**
 * Checks one line of a batch's input file: `{custom_id, method: "POST", url: <the batch's endpoint>,
 * body}`, then the body by the endpoint's own rules (`validateBody` throws the endpoint's 4xx).
 * `bytes` null means the line was longer than the limit. Duplicate custom_ids are the caller's to find.
 */
export function parseBatchLine(bytes: Buffer | null, endpoint: BatchEndpoint, validateBody: (body: Record<string, unknown>) => void, maxBytes: number): BatchRequestLine | BadBatchLine {
  if (bytes === null) return bad(null, 'line_too_large', `The line is longer than ${maxBytes} bytes.`);
  let line: unknown;
  try {
    line = JSON.parse(utf8.decode(bytes));
  } catch {
    return bad(null, 'invalid_json_line', 'The line is not a JSON object (or not UTF-8).');
  }
  if (!line || typeof line !== 'object' || Array.isArray(line)) return bad(null, 'invalid_json_line', 'The line is not a JSON object.');
  const { custom_id, method, url, body } = line as Record<string, unknown>;
  const known = typeof custom_id === 'string' && custom_id.length > 0 && custom_id.length <= MAX_CUSTOM_ID_LENGTH ? custom_id : null;
  if (!known) return bad(null, 'invalid_custom_id', `'custom_id' must be a string of 1 to ${MAX_CUSTOM_ID_LENGTH} characters.`);
  if (method !== 'POST') return bad(known, 'invalid_method', `'method' must be 'POST', not ${JSON.stringify(method ?? null)}.`);
  if (url !== endpoint) return bad(known, 'invalid_url', `'url' must be the batch's endpoint '${endpoint}', not ${JSON.stringify(url ?? null)}.`);
  if (!body || typeof body !== 'object' || Array.isArray(body)) return bad(known, 'invalid_body', "'body' must be a JSON object.");
  const request = body as Record<string, unknown>;
  if (request.stream === true) return bad(known, 'invalid_request', "'body.stream' must not be true: a batch has no one to stream to.");
  if (request.background === true) return bad(known, 'invalid_request', "'body.background' must not be true: a batch line runs in the batch.");
  try {
    validateBody(request);
  } catch (err) {
    if (err instanceof ApiError) return bad(known, err.code ?? 'invalid_request', err.message);
    throw err;
  }
  return { ok: true, customId: known, body: request };
}
