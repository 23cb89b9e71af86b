import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError, ModelNotConfiguredError, UpstreamError } from '@cibox/contracts';
import type { ChatChunk, ChatRequest } from './chat';
import { createModelClient } from './index';
import type { ModelConfig } from './model-routes';

/** A real HTTP server whose handler each test sets; it records the requests it got. */
interface TestServer {
  base: string;
  requests: { headers: http.IncomingHttpHeaders; body: any }[];
  handle(fn: (req: IncomingMessage, res: ServerResponse, n: number) => unknown): void;
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  let handler: (req: IncomingMessage, res: ServerResponse, n: number) => unknown = (_q, res) => res.end();
  const requests: TestServer['requests'] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: text ? JSON.parse(text) : null });
      void handler(req, res, requests.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    handle: (fn) => (handler = fn),
    close: () => new Promise((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

const KEY = 'sk-upstream-secret-1234';
const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
const chunk = (delta: object, finish: string | null = null) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
const STREAM = sse(
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hé' }),
  chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'python', arguments: '' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"code": "print(\\"\\u00e9\\n\\")"}' } }] }),
  chunk({}, 'tool_calls'),
  { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } },
  '[DONE]',
);
const request: ChatRequest = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], seed: 7 };
const sendStream = (res: ServerResponse, body = STREAM) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(body);
};

let server: TestServer;
beforeEach(async () => (server = await startServer()));
afterEach(() => server.close());

const config = (over: Partial<ModelConfig> = {}): ModelConfig => ({ baseUrl: server.base, apiKey: KEY, modelsFile: null, timeoutMs: 2000, maxRetries: 2, ...over });
const client = (over: Partial<ModelConfig> = {}, backoff = { initialDelayMs: 5, maxDelayMs: 20 }) => createModelClient(config(over), { backoff });
const collect = async (it: AsyncIterable<ChatChunk>) => {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
};
const caught = async (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as any);

describe('HttpModelClient.stream', () => {
  it('posts stream:true with usage, the key and the unknown fields, and yields the chunks', async () => {
    server.handle((_q, res) => sendStream(res));
    const chunks = await collect(client().stream(request));
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(server.requests[0]!.body).toEqual({ ...request, stream: true, stream_options: { include_usage: true } });
    expect(chunks).toHaveLength(6);
    expect(chunks[1]!.choices[0]!.delta).toEqual({ content: 'Hé' });
    expect(chunks[3]!.choices[0]!.delta.tool_calls).toEqual([{ index: 0, function: { arguments: '{"code": "print(\\"\\u00e9\\n\\")"}' } }]);
    expect(chunks[4]!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks[5]).toMatchObject({ choices: [], usage: { total_tokens: 12 } });
  });

  it('yields the same chunks for a body split in two at every byte boundary', async () => {
    const bytes = Buffer.from(STREAM);
    const expected = await (async () => (server.handle((_q, res) => sendStream(res)), collect(client().stream(request))))();
    for (let i = 1; i < bytes.length; i++) {
      server.handle((_q, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(bytes.subarray(0, i));
        setImmediate(() => res.end(bytes.subarray(i)));
      });
      expect({ split: i, chunks: await collect(client().stream(request)) }).toEqual({ split: i, chunks: expected });
    }
  });

  it('numbers tool-call deltas that come without an index by their position', async () => {
    server.handle((_q, res) => sendStream(res, sse(chunk({ tool_calls: [{ id: 'a', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'), '[DONE]')));
    const [first] = await collect(client().stream(request));
    expect(first!.choices[0]!.delta.tool_calls).toEqual([{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }]);
  });

  it('turns an error frame mid-stream into a 502 with the upstream message', async () => {
    server.handle((_q, res) => sendStream(res, sse(chunk({ content: 'a' }), { error: { message: 'overloaded, try later' } })));
    const err = await caught(collect(client().stream(request)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('overloaded, try later');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 429, waiting what retry-after-ms says', async () => {
    server.handle((_q, res, n) => (n === 1 ? (res.writeHead(429, { 'retry-after-ms': '300' }), res.end('{"error":{"message":"slow down"}}')) : sendStream(res)));
    const started = Date.now();
    const chunks = await collect(client({}, { initialDelayMs: 5000, maxDelayMs: 5000 }).stream(request));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(chunks).toHaveLength(6);
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after maxRetries+1 answers of 500 with a 502 naming the host', async () => {
    server.handle((_q, res) => (res.writeHead(500), res.end('{"error":{"message":"boom"}}')));
    const err = await caught(collect(client({ maxRetries: 3 }).stream(request)));
    expect(server.requests).toHaveLength(4);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toBe(`The model upstream at ${new URL(server.base).host} did not answer: HTTP 500: boom (4 attempts).`);
  });

  it('retries a refused connection, then says the upstream did not answer', async () => {
    await server.close();
    const err = await caught(collect(client({ maxRetries: 1 }).stream(request)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toMatch(/did not answer: .*ECONNREFUSED.*\(2 attempts\)/);
  });

  it('does not retry once a chunk went out: a cut connection is an error', async () => {
    server.handle((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(chunk({ content: 'partial' })), () => res.socket!.destroy());
    });
    const seen: ChatChunk[] = [];
    const err = await caught((async () => { for await (const c of client().stream(request)) seen.push(c); })());
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toContain('mid-stream');
    expect(server.requests).toHaveLength(1);
  });

  it('times out an upstream that sends no first byte, and retries it', async () => {
    server.handle(() => undefined);
    const started = Date.now();
    const err = await caught(collect(client({ timeoutMs: 200, maxRetries: 1 }).stream(request)));
    expect(err.message).toContain('did not answer: no answer within 200 ms (2 attempts)');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.requests).toHaveLength(2);
  });

  it('times out a stream that goes silent between chunks', async () => {
    server.handle((_q, res) => (res.writeHead(200, { 'content-type': 'text/event-stream' }), res.write(sse(chunk({ content: 'a' })))));
    const err = await caught(collect(client({ timeoutMs: 200 }).stream(request)));
    expect(err.message).toContain('failed mid-stream: no answer within 200 ms');
    expect(server.requests).toHaveLength(1);
  });

  it('is not cut off while the consumer, not the upstream, is slow', async () => {
    // The upstream is never silent for 1 s; the consumer holds the first chunk for 1.3 s.
    const [first, ...rest] = STREAM.split(/(?<=\n\n)/);
    server.handle((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(first!);
      setTimeout(() => res.write(rest.shift()!), 600);
      setTimeout(() => res.end(rest.join('')), 1200);
    });
    const chunks: ChatChunk[] = [];
    for await (const c of client({ timeoutMs: 1000 }).stream(request)) {
      chunks.push(c);
      if (chunks.length === 1) await new Promise((r) => setTimeout(r, 1300));
    }
    expect(chunks).toHaveLength(6);
  });

  it('stops at once on the caller abort, without retrying', async () => {
    server.handle(() => undefined);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('client went away')), 100);
    const started = Date.now();
    const err = await caught(collect(client({ maxRetries: 3 }).stream(request, abort.signal)));
    expect(err.message).toBe('client went away');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.requests).toHaveLength(1);
  });

  it('stops at once when aborted during the back-off', async () => {
    server.handle((_q, res) => (res.writeHead(503), res.end()));
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('stop')), 200);
    const err = await caught(collect(client({}, { initialDelayMs: 10_000, maxDelayMs: 10_000 }).stream(request, abort.signal)));
    expect(err.message).toBe('stop');
    expect(server.requests).toHaveLength(1);
  });

  it.each([400, 404, 422])('passes a %i on as our 400 with the upstream message, without retrying', async (status) => {
    server.handle((_q, res) => (res.writeHead(status), res.end(JSON.stringify({ error: { message: 'messages[0] is bad', code: 'bad_messages' } }))));
    const err = await caught(collect(client().stream(request)));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.toBody().error).toMatchObject({ type: 'invalid_request_error', code: 'bad_messages' });
    expect(err.message).toContain(`rejected the request (HTTP ${status}: messages[0] is bad)`);
    expect(server.requests).toHaveLength(1);
  });

  it.each([401, 403])('reports a %i as a 502 about MODEL_API_KEY, never echoing the key', async (status) => {
    server.handle((_q, res) => (res.writeHead(status), res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}` } }))));
    const err = await caught(collect(client().stream(request)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toContain('check MODEL_API_KEY');
    expect(err.message).not.toContain(KEY);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a stream that closed before the completion finished, when nothing was yielded', async () => {
    server.handle((_q, res, n) => sendStream(res, n === 1 ? '' : STREAM));
    expect(await collect(client().stream(request))).toHaveLength(6);
    expect(server.requests).toHaveLength(2);
  });

  it('without any upstream, says what to set', async () => {
    const none = client({ baseUrl: null, apiKey: null });
    expect(none.configured()).toBe(false);
    const err = await caught(collect(none.stream(request)));
    expect(err).toBeInstanceOf(ModelNotConfiguredError);
    expect(err.message).toBe('No model upstream is configured: set MODEL_BASE_URL (and MODEL_API_KEY) or MODELS_FILE.');
    expect(await none.listModels()).toEqual([]);
  });
});

describe('HttpModelClient.proxy', () => {
  it('forwards the request unchanged and relays a JSON reply', async () => {
    server.handle((_q, res) => (res.writeHead(200, { 'content-type': 'application/json' }), res.end('{"object":"chat.completion"}')));
    const res = await client().proxy({ ...request, stream: false });
    expect(server.requests[0]!.body).toEqual({ ...request, stream: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ object: 'chat.completion' });
  });

  it('relays a stream byte for byte, after retrying a 503', async () => {
    server.handle((_q, res, n) => (n === 1 ? (res.writeHead(503), res.end()) : sendStream(res)));
    const res = await client().proxy({ ...request, stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe(STREAM);
    expect(server.requests).toHaveLength(2);
  });

  it('errors the relayed body when the upstream goes silent', async () => {
    server.handle((_q, res) => (res.writeHead(200, { 'content-type': 'text/event-stream' }), res.write(sse(chunk({ content: 'a' })))));
    const res = await client({ timeoutMs: 200 }).proxy({ ...request, stream: true });
    const err = await caught(res.text());
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toContain('no answer within 200 ms');
  });

  it('throws the upstream 400 as our 400', async () => {
    server.handle((_q, res) => (res.writeHead(400), res.end('{"error":"model is required"}')));
    const err = await caught(client().proxy(request));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain('model is required');
  });
});

describe('HttpModelClient.listModels', () => {
  it("lists the default upstream's models", async () => {
    server.handle((_q, res) => res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama3.1', object: 'model', created: 5, owned_by: 'library' }, { id: 'qwen' }] })));
    expect(await client().listModels()).toEqual([
      { id: 'llama3.1', object: 'model', created: 5, owned_by: 'library' },
      { id: 'qwen', object: 'model', created: 0, owned_by: new URL(server.base).host },
    ]);
  });

  it('lists nothing from an upstream that cannot list its models', async () => {
    server.handle((_q, res) => (res.writeHead(404), res.end()));
    expect(await client().listModels()).toEqual([]);
  });
});
