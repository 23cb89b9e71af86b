import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver does with the next request: answer with a status, or never answer. */
export type Reply = number | 'hang';

/**
 * An HTTP server on loopback standing in for a tenant's webhook receiver: it keeps every request it
 * gets, and answers each with the next of `replies` (then 200).
 */
export async function startReceiver(replies: Reply[] = []) {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body, at: Date.now() });
      const reply = replies.shift() ?? 200;
      if (reply !== 'hang') res.writeHead(reply, { 'content-type': 'text/plain' }).end(reply < 300 ? 'ok' : 'failing on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    port,
    received,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
