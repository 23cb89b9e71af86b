import { connect } from 'node:net';
import { baseUrl, expectOpenAIError } from './support/clients';

/** Requests Node's HTTP parser refuses before any handler runs still get OpenAI-shaped errors. */
describe('requests the HTTP parser refuses', () => {
  it('a 60 KB Authorization header gets 431 with an OpenAI error body', async () => {
    const res = await fetch(`${baseUrl()}/v1/files`, { headers: { authorization: `Bearer ${'k'.repeat(60 * 1024)}` } });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string } };
    expectOpenAIError(body, null);
    expect(body.error.code).toBe('request_header_fields_too_large');
  });

  it.each([
    ['a garbage request line', 'NOT HTTP AT ALL\r\n\r\n'],
    ['a NUL in a header value', `GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\0b\r\n\r\n`],
    ['both Content-Length and chunked', 'POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ])('%s gets 400 with an OpenAI error body, and the connection is closed', async (_case, request) => {
    const { hostname, port } = new URL(baseUrl());
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.write(request);
    });
    const [head, body] = response.split('\r\n\r\n', 2);
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const json = JSON.parse(body!) as { error: { code: string } };
    expectOpenAIError(json, null);
    expect(json.error.code).toBe('malformed_request');
  });

  it('the api still serves normally afterwards', async () => {
    const res = await fetch(`${baseUrl()}/v1/files`, { headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}` } });
    expect(res.status).toBe(200);
  });
});
