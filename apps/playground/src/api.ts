import OpenAI, { APIConnectionError, APIError } from 'openai';
import { Stream } from 'openai/streaming';
import type { ExecutionEvent } from '@cibox/contracts';
import { describeFacts, type ErrorFacts } from './errors';

/**
 * The page talks to the api the way any client does: the official `openai` package for OpenAI's
 * routes, and fetch with the same bearer key for our executions extension. The key lives in this
 * browser's localStorage only.
 */
export function clientFor(apiKey: string): OpenAI {
  // Retries are the api's job (it retries the model upstream); a page that retried too would only
  // make a person wait three times as long for the same error.
  return new OpenAI({ apiKey, baseURL: `${location.origin}/v1`, dangerouslyAllowBrowser: true, maxRetries: 0 });
}

/** A sentence a person can act on, for anything a call to the api threw. */
export function describeError(err: unknown): string {
  if (err instanceof APIConnectionError) return `The API at ${location.origin} could not be reached: ${err.message}`;
  if (isApiError(err)) return describeFacts({ status: err.status ?? null, code: err.code ?? null, message: errorMessage(err) });
  if (err instanceof ExecutionRequestError) return describeFacts(err.facts);
  if (err instanceof Error && err.name === 'AbortError') return 'Stopped.';
  return err instanceof Error ? err.message : String(err);
}

// `instanceof` alone narrows to APIError<any, any, any>; this keeps the SDK's declared field types.
const isApiError = (err: unknown): err is APIError => err instanceof APIError;

/** The api's own message (the SDK's `message` prefixes it with the status). */
function errorMessage(err: APIError): string {
  const body: unknown = err.error;
  return typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string' ? body.message : err.message;
}

class ExecutionRequestError extends Error {
  constructor(readonly facts: ErrorFacts) {
    super(facts.message);
  }
}

/**
 * Runs code in a container through our executions extension, streamed: yields `created`, then
 * `stdout` / `stderr` / `result` as they happen, and `done` with the whole execution.
 */
export async function* runExecution(apiKey: string, containerId: string, code: string): AsyncGenerator<ExecutionEvent> {
  const res = await postExecutions(apiKey, `/v1/containers/${encodeURIComponent(containerId)}/executions`, { code, stream: true });
  // The SDK's SSE decoder, in `events` mode: every event's JSON as it is (ours are `{type, …}`).
  yield* Stream.fromSSEResponse<ExecutionEvent>(res, new AbortController(), undefined, false, 'events');
}

/** Interrupts a running execution (our extension); its stream then ends `cancelled`. */
export async function cancelExecution(apiKey: string, containerId: string, executionId: string): Promise<void> {
  await postExecutions(apiKey, `/v1/containers/${encodeURIComponent(containerId)}/executions/${encodeURIComponent(executionId)}/cancel`, {});
}

async function postExecutions(apiKey: string, path: string, body: object): Promise<Response> {
  const res = await fetch(`${location.origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.ok) return res;
  const answer = (await res.json().catch(() => null)) as { error?: { message?: string; code?: string | null } } | null;
  throw new ExecutionRequestError({ status: res.status, code: answer?.error?.code ?? null, message: answer?.error?.message ?? res.statusText });
}

/**
 * Downloads a container file with the key (its content route needs it) and hands it to the browser
 * as a saved file, named as in the container.
 */
export async function downloadContainerFile(client: OpenAI, containerId: string, fileId: string, filename: string): Promise<void> {
  const res = await client.containers.files.content.retrieve(fileId, { container_id: containerId });
  const url = URL.createObjectURL(await res.blob());
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // The download has taken its copy once click() returns; later is only for slow browsers.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
