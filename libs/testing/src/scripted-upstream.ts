import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatRequest } from '@cibox/model';
import { personaTurn } from './scripted-persona';
import { renderChunks, renderCompletion, scriptSchema, type RenderContext, type ScriptedTurn } from './scripted-turns';

/**
 * An OpenAI-compatible Chat Completions server for tests, programmed per model name over HTTP:
 *
 *   POST /__scripts                    {model, turns: ScriptedTurn[]}: each later request for `model` takes the next turn
 *   GET  /__scripts/{model}/requests   {model, requests}: every request body received for `model`, in order
 *   POST /v1/chat/completions          streamed (`chat.completion.chunk` SSE, as real servers split it) or not
 *   GET  /v1/models                    the scripted models and the persona's
 *
 * A model nobody scripted is answered by the default persona (scripted-persona.ts). A scripted model
 * whose turns are used up gets a 400 saying so. `/v1` routes check `Authorization: Bearer <apiKey>`.
 */
export interface ScriptedUpstreamOptions {
  port?: number;
  host?: string;
  /** The key the `/v1` routes require; null accepts any request. */
  apiKey?: string | null;
}

export interface ScriptedUpstream {
  /** Origin of the server, e.g. http://127.0.0.1:4000 (the scripts' routes are under it). */
  url: string;
  /** Its OpenAI base URL: `${url}/v1`, what MODEL_BASE_URL is set to. */
  baseUrl: string;
  close(): Promise<void>;
}

/** The persona's answers are listed under this name (any name nobody scripted gets them). */
export const PERSONA_MODEL = 'openai/gpt-4o';

const MAX_BODY_BYTES = 32 * 1024 * 1024;

interface ModelScript {
  scripted: boolean;
  turns: ScriptedTurn[];
  requests: unknown[];
}

/** Starts the scripted upstream in this process. */
export async function startScriptedUpstream(opts: ScriptedUpstreamOptions = {}): Promise<ScriptedUpstream> {
  const scripts = new Map<string, ModelScript>();
  const scriptOf = (model: string) => {
    let script = scripts.get(model);
    if (!script) scripts.set(model, (script = { scripted: false, turns: [], requests: [] }));
    return script;
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `scripted upstream failed: ${String(err)}`, 'server_error');
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;
    if (req.method === 'POST' && path === '/__scripts') {
      const parsed = scriptSchema.safeParse(await readJson(req));
      if (!parsed.success) return sendError(res, 400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      const script = scriptOf(parsed.data.model);
      script.scripted = true;
      script.turns.push(...parsed.data.turns);
      return sendJson(res, 200, { model: parsed.data.model, pending: script.turns.length });
    }
    const requests = /^\/__scripts\/(.+)\/requests$/.exec(path);
    if (req.method === 'GET' && requests) {
      const model = decodeURIComponent(requests[1]!);
      return sendJson(res, 200, { model, requests: scripts.get(model)?.requests ?? [] });
    }
    if (opts.apiKey && path.startsWith('/v1/') && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    if (req.method === 'GET' && path === '/v1/models') {
      const ids = [PERSONA_MODEL, ...[...scripts].filter(([, s]) => s.scripted).map(([id]) => id)];
      return sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'scripted-upstream' })) });
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return completions(req, res);
    return sendError(res, 404, `scripted upstream: no route ${req.method ?? ''} ${path}`);
  }

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as ChatRequest | undefined;
    if (!body || typeof body.model !== 'string') return sendError(res, 400, 'scripted upstream: the request has no `model`.', 'invalid_request_error');
    const script = scriptOf(body.model);
    script.requests.push(body);
    const ctx: RenderContext = { request: body, sequence: script.requests.length, created: Math.floor(Date.now() / 1000) };
    const turn = script.scripted ? script.turns.shift() : personaTurn(body);
    if (!turn) {
      return sendError(res, 400, `scripted upstream: no turn left for model '${body.model}' (request ${ctx.sequence}).`, 'invalid_request_error', 'script_exhausted');
    }
    if (turn.delay_ms) await wait(turn.delay_ms, res);
    if (turn.drop_after_chunks === 0) return void res.socket?.destroy();
    if (turn.status) {
      if (turn.retry_after !== undefined) res.setHeader('retry-after', String(turn.retry_after));
      return sendError(res, turn.status, turn.error_message ?? `scripted upstream: HTTP ${turn.status}`, turn.status >= 500 ? 'server_error' : 'invalid_request_error');
    }
    if (!body.stream) return sendJson(res, 200, renderCompletion(turn, ctx));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    // A comment first, as servers that send keep-alives do: clients must skip it.
    res.write(': scripted upstream\n\n');
    let sent = 0;
    for (const chunk of renderChunks(turn, ctx)) {
      if (res.destroyed) return;
      if (turn.drop_after_chunks !== undefined && sent >= turn.drop_after_chunks) return void res.socket?.destroySoon();
      if (turn.error_after_chunks !== undefined && sent >= turn.error_after_chunks) {
        const error = { message: turn.error_message ?? 'scripted upstream: error mid-stream', type: 'server_error', param: null, code: null };
        res.write(`data: ${JSON.stringify({ error })}\n\n`);
        return void res.end();
      }
      if (sent > 0 && turn.chunk_delay_ms) await wait(turn.chunk_delay_ms, res);
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      sent++;
    }
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits `ms`, or less if the client goes away. */
function wait(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function sendError(res: ServerResponse, status: number, message: string, type = 'invalid_request_error', code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}
