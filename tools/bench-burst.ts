/**
 * The burst figures of `npm run bench`: containers created in a burst, each timed from its create to
 * the end of its first execution (`print(1)`), on a stack of their own with the default configuration
 * (no pool setting: the warm pool's defaults), one api and one worker:
 *
 *   back to back     20 containers one after the other (create, first execution, the next), starting
 *                    from a pool at its resting size
 *   again 15 s later the same burst once more: what the first left the pool with
 *   all at once      20 containers created and run concurrently, on a fresh stack
 *
 * Each burst also reports its mean and how long it took in all, and how many containers got a warm
 * sandbox and how many waited for a start (from the worker's `cibox_warm_pool_takes_total`, where
 * the worker reports it).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startStack } from '../libs/testing/src/stack';
import { eventually } from '../libs/testing/src/eventually';
import type { Row } from './bench-responses';

const BURST = 20;
const PAUSE_MS = 15_000;

export interface BurstBenchOptions {
  image: string;
  key: string;
  request: (base: string, key: string, method: string, urlPath: string, body?: unknown) => Promise<{ id: string }>;
  summary: (name: string, samples: number[]) => Row;
  timeMs: (fn: () => Promise<unknown>) => Promise<number>;
  step: (msg: string) => void;
}

/** The worker's metrics that tell what the pool did: its size, and its hits and misses if reported. */
interface PoolState {
  pooled: number;
  hits: number | null;
  misses: number | null;
}

async function poolState(metricsUrl: string): Promise<PoolState> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (pattern: RegExp) => {
    const m = pattern.exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    pooled: value(/^cibox_sandboxes\{[^}]*state="pooled"[^}]*\} (\S+)$/m) ?? 0,
    hits: value(/^cibox_warm_pool_takes_total\{[^}]*result="hit"[^}]*\} (\S+)$/m),
    misses: value(/^cibox_warm_pool_takes_total\{[^}]*result="miss"[^}]*\} (\S+)$/m),
  };
}

export async function benchBurst(o: BurstBenchOptions): Promise<{ rows: Row[]; lines: string[] }> {
  const rows: Row[] = [];
  const lines: string[] = [];

  /** Runs `fn` against a stack of its own with the default configuration, once its warm pool has filled. */
  async function onDefaultStack(fn: (burst: (name: string, concurrent: boolean) => Promise<void>) => Promise<void>): Promise<void> {
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const stack = await startStack({
      apiKeys: [o.key],
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'cibox-bench-burst-')),
      env: { LOG_LEVEL: 'warn', SANDBOX_IMAGE: o.image, WORKER_METRICS_PORT: String(metricsPort) },
    });
    try {
      // The pool at rest: filled, and no longer growing.
      let last = -1;
      await eventually(
        async () => {
          const { pooled } = await poolState(metricsUrl);
          const settled = pooled > 0 && pooled === last;
          last = pooled;
          return settled;
        },
        { timeoutMs: 120_000, intervalMs: 3_000 },
      );
      const api = (method: string, p: string, body?: unknown) => o.request(stack.baseUrl, o.key, method, p, body);
      let seq = 0;
      await fn(async (name, concurrent) => {
        const before = await poolState(metricsUrl);
        const samples: number[] = [];
        const one = async () => {
          const n = seq++;
          samples.push(
            await o.timeMs(async () => {
              const { id } = await api('POST', '/v1/containers', { name: `bench-burst-${n}` });
              await api('POST', `/v1/containers/${id}/executions`, { code: 'print(1)' });
            }),
          );
        };
        const started = Date.now();
        if (concurrent) await Promise.all(Array.from({ length: BURST }, one));
        else for (let i = 0; i < BURST; i++) await one();
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        rows.push(o.summary(name, samples));
        const after = await poolState(metricsUrl);
        const takes =
          after.hits === null || after.misses === null || before.hits === null || before.misses === null
            ? 'hits and misses not reported'
            : `${after.hits - before.hits} warm, ${after.misses - before.misses} waited for a start`;
        const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
        lines.push(`${name}: mean ${mean.toFixed(0)} ms, all done in ${seconds} s; ${takes}; ${before.pooled} warm before`);
      });
    } finally {
      await stack.stop();
    }
  }

  await onDefaultStack(async (burst) => {
    o.step(`burst: ${BURST} creations back to back`);
    await burst(`burst of ${BURST}, back to back`, false);
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    o.step(`burst: again, ${PAUSE_MS / 1000} s later`);
    await burst(`burst of ${BURST}, again ${PAUSE_MS / 1000} s later`, false);
  });
  await onDefaultStack(async (burst) => {
    o.step(`burst: ${BURST} creations at once`);
    await burst(`burst of ${BURST}, all at once`, true);
  });
  return { rows, lines };
}
