/** What the page knows of an error from the api: its HTTP status (when it had one), code and message. */
export interface ErrorFacts {
  status?: number | null;
  code?: string | null;
  message: string;
}

/** A sentence a person can act on, for an error the api answered or a failed response carried. */
export function describeFacts({ status, code, message }: ErrorFacts): string {
  if (status === 401 || code === 'invalid_api_key') return `The API key was refused (401): ${message} Paste a key this server accepts above.`;
  if (code === 'container_expired') {
    return `This container has expired: it sat idle past its expiry, so its files and variables are gone (${message}). Start a new conversation.`;
  }
  if (code === 'model_not_configured') return `No model is configured on this server (503): ${message}`;
  if (status === 502 || status === 503 || code === 'upstream_error' || code?.startsWith('upstream_')) {
    return `The model upstream failed${status ? ` (${status})` : ''}: ${message} Try again in a moment, or check the server's model settings.`;
  }
  // A streamed response that fails says so in its `response.failed` event (OpenAI's code: server_error);
  // the api's message names the cause, e.g. "The model upstream at … did not answer".
  if (!status && code === 'server_error') return `The response failed: ${message}`;
  if (status === 404) return `Not found (404): ${message}`;
  if (status === 413) return `The file is too large (413): ${message}`;
  return status ? `The api answered ${status}: ${message}` : message;
}
