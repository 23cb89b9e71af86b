import { STATUS_CODES, maxHeaderSize as defaultMaxHeaderSize, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { OpenAIErrorBody } from '@cibox/contracts';

/** The status and OpenAI error for a request Node's HTTP parser refused before any handler saw it. */
export function clientErrorReply(err: NodeJS.ErrnoException, maxHeaderBytes: number): { status: number; body: OpenAIErrorBody } {
  const error = (status: number, message: string, code: string) => ({
    status,
    body: { error: { message, type: 'invalid_request_error', param: null, code } },
  });
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return error(431, `Request headers are too large: at most ${maxHeaderBytes} bytes in total are accepted.`, 'request_header_fields_too_large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return error(413, 'Chunk extensions of the request body are too large.', 'request_too_large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return error(408, 'The request was not received in time.', 'request_timeout');
    default:
      // llhttp's reason ("Invalid header value char") says what was wrong, without echoing the input.
      return error(400, `Malformed HTTP request: ${(err as { reason?: string }).reason ?? err.message}.`, 'malformed_request');
  }
}

/** A whole HTTP/1.1 response carrying `reply`, after which the connection is closed. */
export function clientErrorResponse(reply: { status: number; body: OpenAIErrorBody }): Buffer {
  const json = JSON.stringify(reply.body);
  return Buffer.from(
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
  );
}

/**
 * Answers what Node's HTTP parser refuses (headers over the limit, malformed requests) with an
 * OpenAI-shaped JSON error, where Node's own handler writes a bare status line: every error the api
 * returns reads the same to a client. `maxHeaderBytes` is the parser's limit (Node's
 * `--max-http-header-size`, 16 KiB by default), named in the 431's message.
 */
export function answerClientErrors(server: Server, maxHeaderBytes = defaultMaxHeaderSize): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The client is gone, or a response on this connection has begun: another one would corrupt it.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const reply = clientErrorReply(err, maxHeaderBytes);
    socket.end(clientErrorResponse(reply), () => socket.destroy());
  });
}
