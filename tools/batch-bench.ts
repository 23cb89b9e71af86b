/**
 * `npm run bench:batches`: starts the real stack and the scripted model upstream, and prints, from one run:
 *
 *   memory      the api's resident memory (sampled every 50 ms, and its VmHWM) while it runs a batch of
 *               2,000 and then one of 20,000 chat completion lines (no tool: proxied to the upstream),
 *               so the peaks can be compared: the input is streamed, so the second should be no higher
 *   cheap lines lines per second of the 20,000-line batch
 *   tool lines  lines per second of a batch of chat completion lines with the code_interpreter tool,
 *               each running one cell in a fresh sandbox (BENCH_TOOL_LINES, default 48), and of a
 *               batch of /v1/responses lines whose one cell each runs in a container they share
 *
 * BENCH_LINES changes the size of the large batch; BATCH_CONCURRENCY and WARM_POOL_SIZE pass to the stack.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, createReadStream } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { launchScriptedUpstream, startStack } from '../libs/testing/src/stack';
import { ensurePrerequisites } from './prereqs';

const LARGE = Number(process.env.BENCH_LINES ?? 20_000);
const TOOL_LINES = Number(process.env.BENCH_TOOL_LINES ?? 48);

function memoryOf(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Writes an input file of `count` lines to disk (the bench holds none of it) and returns its path and size. */
async function writeInput(dir: string, name: string, count: number, line: (i: number) => unknown): Promise<{ file: string; bytes: number }> {
  const file = path.join(dir, name);
  const out = createWriteStream(file);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const text = `${JSON.stringify(line(i))}\n`;
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { file, bytes };
}

interface Run {
  seconds: number;
  peakRss: number;
  counts: { total: number; completed: number; failed: number };
}

/** Runs a batch to its end, sampling the api's memory meanwhile. */
async function runBatch(sdk: OpenAI, apiPid: number, file: string, endpoint: '/v1/chat/completions' | '/v1/responses'): Promise<Run> {
  const input = await sdk.files.create({ file: createReadStream(file), purpose: 'batch' });
  let peakRss = memoryOf(apiPid, 'VmRSS');
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, memoryOf(apiPid, 'VmRSS'))), 50);
  const started = process.hrtime.bigint();
  try {
    let batch = await sdk.batches.create({ input_file_id: input.id, endpoint, completion_window: '24h' });
    while (!['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) {
      await new Promise((r) => setTimeout(r, 250));
      batch = await sdk.batches.retrieve(batch.id);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (batch.status !== 'completed') throw new Error(`batch ended ${batch.status}: ${JSON.stringify(batch.errors)}`);
    return { seconds, peakRss, counts: batch.request_counts! };
  } finally {
    clearInterval(sampler);
  }
}

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cibox-batch-bench-'));
  const key = `sk-bench-${randomBytes(8).toString('hex')}`;
  const upstreamKey = `sk-upstream-${randomBytes(8).toString('hex')}`;
  const upstream = await launchScriptedUpstream({ dataDir: dir, apiKey: upstreamKey });
  const stack = await startStack({
    apiKeys: [key],
    dataDir: dir,
    env: {
      LOG_LEVEL: 'warn',
      SANDBOX_IMAGE: image,
      WARM_POOL_SIZE: process.env.WARM_POOL_SIZE ?? '4',
      MODEL_BASE_URL: upstream.baseUrl,
      MODEL_API_KEY: upstreamKey,
      ...(process.env.BATCH_CONCURRENCY ? { BATCH_CONCURRENCY: process.env.BATCH_CONCURRENCY } : {}),
    },
  });
  const step = (msg: string) => process.stdout.write(`[bench] ${msg}\n`);
  try {
    const sdk = new OpenAI({ apiKey: key, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
    const apiPid = stack.processes.find((p) => p.name === 'api')!.child.pid!;
    // Unscripted model names get the scripted upstream's persona: a plain answer, at once.
    const plain = (i: number) => ({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'bench-plain', messages: [{ role: 'user', content: `Question number ${i}: what is ${i} squared?` }] } });
    const small = await writeInput(dir, 'small.jsonl', LARGE / 10, plain);
    const large = await writeInput(dir, 'large.jsonl', LARGE, plain);
    const baseline = memoryOf(apiPid, 'VmRSS');

    step(`${LARGE / 10} cheap lines`);
    const first = await runBatch(sdk, apiPid, small.file, '/v1/chat/completions');
    step(`${LARGE} cheap lines`);
    const second = await runBatch(sdk, apiPid, large.file, '/v1/chat/completions');
    const hwm = memoryOf(apiPid, 'VmHWM');

    step(`${TOOL_LINES} lines with one tool call each`);
    const tool = (i: number) => ({
      custom_id: `tool-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'bench-tool', messages: [{ role: 'user', content: `Compute the square roots of 1 to 10 (${i})` }], tools: [{ type: 'code_interpreter' }] },
    });
    const toolInput = await writeInput(dir, 'tool.jsonl', TOOL_LINES, tool);
    const third = await runBatch(sdk, apiPid, toolInput.file, '/v1/chat/completions');
    if (third.counts.completed !== TOOL_LINES) throw new Error(`tool batch: ${JSON.stringify(third.counts)}`);

    step(`${TOOL_LINES} /v1/responses lines with one tool call each, in one container`);
    const container = await sdk.containers.create({ name: 'batch-bench' });
    const shared = (i: number) => ({
      custom_id: `shared-${i}`,
      method: 'POST',
      url: '/v1/responses',
      body: { model: 'bench-tool', input: `Compute the square roots of 1 to 10 (${i})`, tools: [{ type: 'code_interpreter', container: container.id }], store: false },
    });
    const sharedInput = await writeInput(dir, 'shared.jsonl', TOOL_LINES, shared);
    const fourth = await runBatch(sdk, apiPid, sharedInput.file, '/v1/responses');
    if (fourth.counts.completed !== TOOL_LINES) throw new Error(`shared-container batch: ${JSON.stringify(fourth.counts)}`);

    const row = (name: string, lines: number, bytes: number, run: Run) =>
      `${name.padEnd(34)}${String(lines).padStart(7)}${mb(bytes).padStart(11)}${run.seconds.toFixed(1).padStart(9)}${(lines / run.seconds).toFixed(1).padStart(10)}${mb(run.peakRss).padStart(12)}\n`;
    process.stdout.write(`\n${'batch'.padEnd(34)}${'lines'.padStart(7)}${'input'.padStart(11)}${'seconds'.padStart(9)}${'lines/s'.padStart(10)}${'peak RSS'.padStart(12)}\n`);
    process.stdout.write(row('chat, proxied (no tool)', LARGE / 10, small.bytes, first));
    process.stdout.write(row('chat, proxied (no tool)', LARGE, large.bytes, second));
    process.stdout.write(row('chat, one call, fresh sandbox', TOOL_LINES, toolInput.bytes, third));
    process.stdout.write(row('responses, one call, one container', TOOL_LINES, sharedInput.bytes, fourth));
    process.stdout.write(`\napi resident memory: ${mb(baseline)} before the batches; peak ${mb(first.peakRss)} with ${LARGE / 10} lines, ${mb(second.peakRss)} with ${LARGE} (VmHWM ${mb(hwm)})\n`);
    process.stdout.write(`machine: ${os.cpus().length} cores, BATCH_CONCURRENCY ${process.env.BATCH_CONCURRENCY ?? 16}, warm pool ${process.env.WARM_POOL_SIZE ?? 4}, one api, one worker\n`);
  } finally {
    await stack.stop();
    await upstream.process.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
