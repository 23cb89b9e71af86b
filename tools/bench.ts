/**
 * `npm run bench`: starts the real stack and prints latency and throughput figures from one run.
 *
 *   warm round trip        print(1) through the API in a container whose sandbox is running
 *   create + first exec    POST /v1/containers then the first execution (served from the warm pool)
 *   docker exec baseline   `docker exec <sandbox> python3 -c 'print(1)'` in the same image
 *   throughput             executions per second across 8 containers, each running back to back
 *   responses              responses.create with one tool call against the scripted upstream: what we
 *                          add beyond the execution and the model, and the time to the first streamed
 *                          event (tools/bench-responses.ts)
 *   bursts                 20 containers created back to back, again 15 s later, and 20 at once, each
 *                          timed to the end of its first execution, on stacks with the default
 *                          configuration (tools/bench-burst.ts)
 *
 * The figures before the bursts run with a warm pool of BENCH_WARM_POOL (default 4).
 * BENCH_ONLY=responses or BENCH_ONLY=burst runs only those; BENCH_ROUNDS sets the responses' rounds
 * (default 100, after 10 warm-up).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launchScriptedUpstream, startStack } from '../libs/testing/src/stack';
import { benchBurst } from './bench-burst';
import { benchResponses, type Row } from './bench-responses';
import { ensurePrerequisites } from './prereqs';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(base: string, key: string, method: string, urlPath: string, body?: unknown): Promise<{ id: string }> {
  const url = new URL(urlPath, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method, path: url.pathname, headers: { authorization: `Bearer ${key}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as { id: string });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(name: string, samples: number[]): Row {
  const s = [...samples].sort((a, b) => a - b);
  return { name, n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), min: s[0]!, max: s.at(-1)! };
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  const key = `sk-bench-${randomBytes(8).toString('hex')}`;
  const warmPool = Number(process.env.BENCH_WARM_POOL ?? 4);
  const only = process.env.BENCH_ONLY;
  if (only && only !== 'responses' && only !== 'burst') throw new Error(`BENCH_ONLY: 'responses' or 'burst', not '${only}'`);
  const rows: Row[] = [];
  const lines: string[] = [];
  const step = (msg: string) => process.stdout.write(`[bench] ${msg}\n`);
  if (only !== 'burst') await stackFigures({ image, key, warmPool, executions: !only, rows, lines, step });
  if (!only || only === 'burst') {
    const bursts = await benchBurst({ image, key, request, summary, timeMs, step });
    rows.push(...bursts.rows);
    lines.push(...bursts.lines);
  }

  const fmt = (n: number) => n.toFixed(1).padStart(8);
  process.stdout.write(`\n${'figure'.padEnd(46)}${'n'.padStart(6)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}\n`);
  for (const r of rows) process.stdout.write(`${r.name.padEnd(46)}${String(r.n).padStart(6)}${fmt(r.p50)}${fmt(r.p99)}${fmt(r.min)}${fmt(r.max)}\n`);
  process.stdout.write(`\n${lines.join('\n')}\n`);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(
    `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, warm pool ${warmPool} (bursts: the default configuration), load average ${load} at the end\n`,
  );
}

interface StackFiguresOptions {
  image: string;
  key: string;
  warmPool: number;
  /** The execution figures too, not only the responses'. */
  executions: boolean;
  rows: Row[];
  lines: string[];
  step: (msg: string) => void;
}

/** The figures measured on one stack with a warm pool of `warmPool`: executions, then responses. */
async function stackFigures({ image, key, warmPool, executions, rows, lines, step }: StackFiguresOptions): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cibox-bench-'));
  // The scripted model upstream, in its own process. It answers at once: no turn the bench scripts asks for a delay.
  const upstreamKey = `sk-upstream-${randomBytes(8).toString('hex')}`;
  const upstream = await launchScriptedUpstream({ dataDir, apiKey: upstreamKey });
  const stack = await startStack({
    apiKeys: [key],
    dataDir,
    env: { LOG_LEVEL: 'warn', SANDBOX_IMAGE: image, WARM_POOL_SIZE: String(warmPool), MODEL_BASE_URL: upstream.baseUrl, MODEL_API_KEY: upstreamKey },
  }).catch(async (err: unknown) => {
    await upstream.process.stop();
    throw err;
  });
  const api = (method: string, p: string, body?: unknown) => request(stack.baseUrl, key, method, p, body);
  const exec = (cid: string, code: string) => api('POST', `/v1/containers/${cid}/executions`, { code });
  try {
    // Let the warm pool fill before measuring.
    await new Promise((r) => setTimeout(r, 1000 * warmPool * 1.5));

    if (executions) await executionFigures();
    step('responses');
    const responses = await benchResponses({
      baseUrl: stack.baseUrl,
      key,
      upstreamUrl: upstream.url,
      upstreamBaseUrl: upstream.baseUrl,
      upstreamKey,
      containerId: (await api('POST', '/v1/containers', { name: 'bench-responses' })).id,
      exec,
      summary,
      rounds: Number(process.env.BENCH_ROUNDS ?? 100),
      warmup: 10,
      step,
    });
    rows.push(...responses.rows);
    lines.push(...responses.lines);

    /** The execution figures: warm round trip, create + first execution, docker exec baseline, throughput. */
    async function executionFigures(): Promise<void> {
      step('warm round trip');
      // 1. Warm round trip.
      const warm = (await api('POST', '/v1/containers', { name: 'bench-warm' })).id;
      for (let i = 0; i < 20; i++) await exec(warm, 'print(1)');
      const warmSamples: number[] = [];
      for (let i = 0; i < 300; i++) warmSamples.push(await timeMs(() => exec(warm, 'print(1)')));
      rows.push(summary('warm round trip: print(1) via API', warmSamples));

      step('create + first execution');
      // 2. Create then first execution. Spaced so the pool (refilled one sandbox at a time) keeps up.
      const createSamples: number[] = [];
      const created: string[] = [];
      for (let i = 0; i < 20; i++) {
        createSamples.push(
          await timeMs(async () => {
            const c = await api('POST', '/v1/containers', { name: `bench-new-${i}` });
            created.push(c.id);
            await exec(c.id, 'print(1)');
          }),
        );
        await new Promise((r) => setTimeout(r, 1500));
      }
      rows.push(summary('create container + first execution', createSamples));

      step('docker exec baseline');
      // 3. Baseline: raw docker exec in a sandbox of the same image.
      const sandboxId = spawnSync('docker', ['ps', '-q', '--filter', 'label=cibox.sandbox=1'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
      const dockerSamples: number[] = [];
      for (let i = 0; i < 40; i++) {
        const t = process.hrtime.bigint();
        spawnSync('docker', ['exec', sandboxId, 'python3', '-c', 'print(1)']);
        dockerSamples.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      rows.push(summary("baseline: docker exec python3 -c 'print(1)'", dockerSamples));

      step('throughput');
      // 4. Throughput across 8 containers.
      const eight: string[] = [];
      for (let i = 0; i < 8; i++) {
        const id = (await api('POST', '/v1/containers', { name: `bench-tp-${i}` })).id;
        await exec(id, 'print(1)');
        eight.push(id);
      }
      // Steady state: let the warm pool refill from the containers just created before measuring.
      await new Promise((r) => setTimeout(r, 2000 * warmPool));
      const seconds = 10;
      const until = Date.now() + seconds * 1000;
      let count = 0;
      const tpSamples: number[] = [];
      await Promise.all(
        eight.map(async (cid) => {
          while (Date.now() < until) {
            tpSamples.push(await timeMs(() => exec(cid, 'print(1)')));
            count++;
          }
        }),
      );
      rows.push(summary('latency under load (8 containers)', tpSamples));

      const warmRow = rows[0]!;
      const baseRow = rows[2]!;
      lines.push(`throughput: ${(count / seconds).toFixed(0)} executions/s across 8 containers (${count} in ${seconds} s)`);
      lines.push(`warm round trip vs docker exec baseline: p50 ${(baseRow.p50 / warmRow.p50).toFixed(1)}x faster`);
    }
  } finally {
    await stack.stop();
    await upstream.process.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
