import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestOrigin } from './request-origin';

describe('requestOrigin', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    app.get('/', (req, res) => {
      res.type('text/plain').send(requestOrigin(req));
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** The origin the api would build links on for a request with these headers. */
  const originFor = (headers: Record<string, string>) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });

  it('is the protocol and the Host header, port included', async () => {
    expect(await originFor({ host: 'ci.example.com:8443' })).toBe('http://ci.example.com:8443');
    expect(await originFor({ host: '[::1]:8080' })).toBe('http://[::1]:8080');
  });

  it('ignores X-Forwarded-Proto and X-Forwarded-Host, which any client can send', async () => {
    expect(await originFor({ host: 'ci.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' })).toBe('http://ci.example.com');
  });

  it('falls back to localhost and our port for a Host that could move the link elsewhere', async () => {
    expect(await originFor({ host: 'evil.example/x?' })).toBe(`http://localhost:${port}`);
    expect(await originFor({ host: 'user@evil.example' })).toBe(`http://localhost:${port}`);
  });
});
