import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { delivered, sendWebhook } from './webhook-sender';

/** A receiver on loopback that answers each request with `handle`, and remembers what it got. */
async function receiver(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const got: { headers: http.IncomingHttpHeaders; body: string; path: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body, path: req.url ?? '' });
      handle(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, got, close: () => new Promise<void>((r) => server.close(() => r())), server };
}

const loopback = { timeoutMs: 2000, publicOnly: false };

describe('sendWebhook', () => {
  let r: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(async () => {
    r?.server.closeAllConnections();
    await r?.close();
    r = undefined;
  });

  it('POSTs the body as JSON with the given headers, and reports a 2xx as delivered', async () => {
    r = await receiver((_req, res) => res.writeHead(204).end());
    const outcome = await sendWebhook(`${r.url}/hook?x=1`, '{"a":1}', { 'webhook-id': 'evt_1' }, loopback);
    expect(outcome).toMatchObject({ statusCode: 204, error: null, refused: false });
    expect(delivered(outcome)).toBe(true);
    expect(r.got[0]).toMatchObject({ body: '{"a":1}', path: '/hook?x=1', headers: expect.objectContaining({ 'webhook-id': 'evt_1', 'content-type': 'application/json' }) });
  });

  it('reports a 500 as not delivered', async () => {
    r = await receiver((_req, res) => res.writeHead(500).end('oops'));
    const outcome = await sendWebhook(r.url, '{}', {}, loopback);
    expect(outcome.statusCode).toBe(500);
    expect(delivered(outcome)).toBe(false);
  });

  it('does not follow a redirect', async () => {
    r = await receiver((req, res) => (req.url === '/moved' ? res.writeHead(200).end() : res.writeHead(307, { location: '/moved' }).end()));
    const outcome = await sendWebhook(r.url, '{}', {}, loopback);
    expect(outcome.statusCode).toBe(307);
    expect(delivered(outcome)).toBe(false);
    expect(r.got.map((g) => g.path)).toEqual(['/']);
  });

  it('gives up on a receiver that never answers after the timeout', async () => {
    r = await receiver(() => undefined);
    const outcome = await sendWebhook(r.url, '{}', {}, { timeoutMs: 300, publicOnly: false });
    expect(outcome).toMatchObject({ statusCode: null, error: 'no response within 300 ms', refused: false });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(290);
    expect(outcome.durationMs).toBeLessThan(2000);
  });

  it('does not wait for a body that never ends', async () => {
    r = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const outcome = await sendWebhook(r.url, '{}', {}, { timeoutMs: 5000, publicOnly: false });
    expect(outcome.statusCode).toBe(200);
    expect(outcome.durationMs).toBeLessThan(1000);
  });

  it('reports a refused connection', async () => {
    r = await receiver(() => undefined);
    const url = r.url;
    await r.close();
    r = undefined;
    const outcome = await sendWebhook(url, '{}', {}, loopback);
    expect(outcome).toMatchObject({ statusCode: null, refused: false });
    expect(outcome.error).toMatch(/ECONNREFUSED/);
  });

  it.each([
    ['a loopback literal', (url: string) => url],
    ['a name that resolves to loopback', (url: string) => url.replace('127.0.0.1', 'localhost')],
  ])('with publicOnly, refuses %s without sending anything', async (_name, target) => {
    r = await receiver((_req, res) => res.writeHead(200).end());
    const outcome = await sendWebhook(target(r.url), '{}', {}, { timeoutMs: 2000, publicOnly: true });
    expect(outcome).toMatchObject({ statusCode: null, refused: true });
    expect(outcome.error).toMatch(/loopback address/);
    expect(r.got).toHaveLength(0);
  });
});
