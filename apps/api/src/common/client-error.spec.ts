import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { answerClientErrors } from './client-error';

/** Sends `request` as raw bytes and returns everything the server wrote before closing. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(request);
  });
}

function parse(response: string) {
  const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
  const lines = head.split('\r\n');
  return { statusLine: lines[0], headers: lines.slice(1).map((l) => l.toLowerCase()), json: JSON.parse(body) as unknown };
}

describe('answerClientErrors', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    answerClientErrors(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('answers headers over the limit with 431 and an OpenAI error body, then closes', async () => {
    const res = parse(await rawExchange(port, `GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'k'.repeat(60 * 1024)}\r\n\r\n`));
    expect(res.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(res.headers).toEqual(expect.arrayContaining(['content-type: application/json; charset=utf-8', 'connection: close']));
    expect(res.json).toEqual({
      error: { message: expect.stringContaining('Request headers are too large'), type: 'invalid_request_error', param: null, code: 'request_header_fields_too_large' },
    });
  });

  it.each([
    ['a garbage request line', 'NOT HTTP AT ALL\r\n\r\n'],
    ['a header with a bad character', 'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'],
    ['both Content-Length and chunked', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ])('answers %s with 400 and an OpenAI error body', async (_case, request) => {
    const res = parse(await rawExchange(port, request));
    expect(res.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(res.json).toEqual({ error: { message: expect.stringMatching(/^Malformed HTTP request: .+\.$/), type: 'invalid_request_error', param: null, code: 'malformed_request' } });
  });

  it('still serves well-formed requests', async () => {
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200 OK[\s\S]*ok$/);
  });
});
