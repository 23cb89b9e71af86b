/**
 * The Responses figures of `npm run bench`: what `responses.create` with one python tool call adds
 * on top of the execution and the model, against the scripted upstream (which answers at once: no
 * `delay_ms`, no `chunk_delay_ms`). Every round measures, back to back so that a busy moment of the
 * machine touches all of them alike:
 *
 *   execution       `1+1` through POST /v1/containers/{id}/executions (what the tool call itself costs)
 *   upstream 1, 2   the two streamed chat completions the response makes, sent straight to the upstream
 *   responses.create the same code as a tool call, through the official SDK (and as raw HTTP), in the same container
 *   streamed        `stream: true`: time to `response.created`, to the first code delta, and to the end
 *
 * added latency = responses.create p50 − execution p50 − upstream 1 p50 − upstream 2 p50.
 */
import OpenAI from 'openai';

export interface Row {
  name: string;
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

export interface ResponsesBenchOptions {
  /** Our api's origin and key. */
  baseUrl: string;
  key: string;
  /** The scripted upstream's origin (its scripts' routes), its OpenAI base URL and key. */
  upstreamUrl: string;
  upstreamBaseUrl: string;
  upstreamKey: string;
  /** A running container: every call runs in it, so none is created while measuring. */
  containerId: string;
  /** Runs code through our executions extension and resolves when it has finished. */
  exec: (containerId: string, code: string) => Promise<unknown>;
  summary: (name: string, samples: number[]) => Row;
  rounds: number;
  warmup: number;
  step: (msg: string) => void;
}

const CODE = '1+1';
const QUESTION = 'What is 1+1? Use python.';
const ANSWER = '1 + 1 = 2.';
const TOOL_CALL = { name: 'python', arguments: JSON.stringify({ code: CODE }) };

/** What the api sends the upstream for the two turns (see libs/responses/src/response-run.ts), near enough in size. */
const PYTHON_TOOL = {
  type: 'function',
  function: {
    name: 'python',
    description: 'Runs Python code in a stateful Jupyter-like sandbox and returns its output. '.repeat(6),
    parameters: { type: 'object', properties: { code: { type: 'string', description: 'The Python code to run.' } }, required: ['code'] },
  },
};
const upstreamRequests = (model: string) => {
  const common = { model, tools: [PYTHON_TOOL], tool_choice: 'auto', stream: true, stream_options: { include_usage: true } };
  const first = [{ role: 'user', content: QUESTION }];
  const call = { id: 'call_bench', type: 'function', function: TOOL_CALL };
  const second = [...first, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_bench', content: '2' }];
  return [
    { ...common, messages: first },
    { ...common, messages: second },
  ];
};

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function benchResponses(o: ResponsesBenchOptions): Promise<{ rows: Row[]; lines: string[] }> {
  const total = o.warmup + o.rounds;
  const script = async (model: string, turns: unknown[]) => {
    const res = await fetch(`${o.upstreamUrl}/__scripts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, turns }) });
    if (res.status !== 200) throw new Error(`scripting the upstream failed: ${res.status} ${await res.text()}`);
  };
  // One model per kind of call, each with every turn it will take queued up front.
  const pair = [{ tool_calls: [TOOL_CALL] }, { content: ANSWER }];
  const models = { direct: 'bench-direct', sdk: 'bench-sdk', raw: 'bench-raw', stream: 'bench-stream' };
  for (const model of Object.values(models)) await script(model, Array.from({ length: total }, () => pair).flat());

  const upstreamCall = async (body: unknown) => {
    const res = await fetch(`${o.upstreamBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.upstreamKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('data: [DONE]')) throw new Error(`upstream: ${res.status} ${text.slice(0, 200)}`);
  };
  const [firstTurn, secondTurn] = upstreamRequests(models.direct);

  const sdk = new OpenAI({ apiKey: o.key, baseURL: `${o.baseUrl}/v1`, maxRetries: 0, timeout: 60_000 });
  const tools = [{ type: 'code_interpreter' as const, container: o.containerId }];
  const check = (output: { type: string }[], status: string) => {
    if (status !== 'completed' || output.map((i) => i.type).join() !== 'code_interpreter_call,message') {
      throw new Error(`responses.create: unexpected ${status} response: ${JSON.stringify(output).slice(0, 300)}`);
    }
  };
  const viaSdk = async () => {
    const r = await sdk.responses.create({ model: models.sdk, input: QUESTION, tools });
    check(r.output, r.status ?? '');
  };
  const viaRaw = async () => {
    const res = await fetch(`${o.baseUrl}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: models.raw, input: QUESTION, tools }),
    });
    const r = (await res.json()) as { status: string; output: { type: string }[] };
    check(r.output ?? [], r.status);
  };
  const streamed = async () => {
    const t = performance.now();
    let created = -1;
    let firstCode = -1;
    let last = '';
    const stream = await sdk.responses.create({ model: models.stream, input: QUESTION, tools, stream: true });
    for await (const event of stream) {
      if (event.type === 'response.created' && created < 0) created = performance.now() - t;
      if (event.type === 'response.code_interpreter_call_code.delta' && firstCode < 0) firstCode = performance.now() - t;
      last = event.type;
    }
    if (created < 0 || firstCode < 0 || last !== 'response.completed') throw new Error(`stream: created ${created}, first code ${firstCode}, last ${last}`);
    return { created, firstCode, end: performance.now() - t };
  };

  const s = { exec: [] as number[], up1: [] as number[], up2: [] as number[], sdk: [] as number[], raw: [] as number[], created: [] as number[], code: [] as number[], end: [] as number[] };
  o.step(`responses: ${o.warmup} warm-up rounds, then ${o.rounds} measured`);
  for (let i = 0; i < total; i++) {
    const exec = await timeMs(() => o.exec(o.containerId, CODE));
    const up1 = await timeMs(() => upstreamCall(firstTurn));
    const up2 = await timeMs(() => upstreamCall(secondTurn));
    const viaSdkMs = await timeMs(viaSdk);
    const viaRawMs = await timeMs(viaRaw);
    const st = await streamed();
    if (i < o.warmup) continue;
    s.exec.push(exec);
    s.up1.push(up1);
    s.up2.push(up2);
    s.sdk.push(viaSdkMs);
    s.raw.push(viaRawMs);
    s.created.push(st.created);
    s.code.push(st.firstCode);
    s.end.push(st.end);
  }

  const rows = [
    o.summary(`execution: ${CODE} via API (baseline)`, s.exec),
    o.summary('upstream turn 1 (tool call), direct', s.up1),
    o.summary('upstream turn 2 (answer), direct', s.up2),
    o.summary('responses.create, 1 tool call (SDK)', s.sdk),
    o.summary('responses.create, 1 tool call (raw HTTP)', s.raw),
    o.summary('stream: to response.created (SDK)', s.created),
    o.summary('stream: to first code delta (SDK)', s.code),
    o.summary('stream: to response.completed (SDK)', s.end),
  ];
  const [exec, up1, up2, viaSdkRow, viaRawRow] = rows as [Row, Row, Row, Row, Row];
  const base = exec.p50 + up1.p50 + up2.p50;
  const f = (n: number) => n.toFixed(1);
  // The same, round by round: less moved by a busy moment that hits one figure and not the others.
  const perRound = (own: number[]) => o.summary('', own.map((ms, i) => ms - s.exec[i]! - s.up1[i]! - s.up2[i]!)).p50;
  const lines = [
    `responses.create added latency (p50): SDK ${f(viaSdkRow.p50 - base)} ms, raw HTTP ${f(viaRawRow.p50 - base)} ms ` +
      `(= ${f(viaSdkRow.p50)} / ${f(viaRawRow.p50)} − execution ${f(exec.p50)} − upstream ${f(up1.p50)} + ${f(up2.p50)})`,
    `added latency, median of the per-round differences: SDK ${f(perRound(s.sdk))} ms, raw HTTP ${f(perRound(s.raw))} ms`,
    `responses.create vs its parts (execution + 2 upstream turns, p50): ${f(viaSdkRow.p50 / base)}x (SDK), ${f(viaRawRow.p50 / base)}x (raw HTTP)`,
  ];
  return { rows, lines };
}
