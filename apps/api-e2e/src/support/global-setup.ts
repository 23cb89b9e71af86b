import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// Jest loads globalSetup outside its module map, so the libs are imported by path here.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ensurePythonClient } from '../../../../libs/testing/src/python-client';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ensurePlayground } from '../../../../tools/playground';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { launchScriptedUpstream, startStack, type ManagedProcess, type Stack } from '../../../../libs/testing/src/stack';

declare global {
  var __CIBOX_STACK__: Stack | undefined;
  var __CIBOX_UPSTREAM__: ManagedProcess | undefined;
}

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Starts, once for the suite: the scripted model upstream, then the real stack (Redis, the S3
 * server, api and a worker, as processes) pointed at it; readies a Python with the openai package,
 * and the playground page the api serves.
 */
export default async function globalSetup(): Promise<void> {
  const keys = [`sk-test-a-${randomBytes(8).toString('hex')}`, `sk-test-b-${randomBytes(8).toString('hex')}`];
  // Known to the suite, so it can sign links to container files as the api does.
  const signingSecret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cibox-e2e-'));
  process.env.CIBOX_PYTHON ||= ensurePythonClient(ROOT, (line) => process.stdout.write(`[python] ${line}\n`));
  // The api serves the page from dist/playground; rebuilt here only if its sources changed.
  ensurePlayground({ log: (line) => process.stdout.write(`[playground] ${line}\n`) });
  const upstreamKey = `sk-upstream-${randomBytes(8).toString('hex')}`;
  const upstream = await launchScriptedUpstream({ dataDir, apiKey: upstreamKey });
  globalThis.__CIBOX_UPSTREAM__ = upstream.process;
  process.env.CIBOX_UPSTREAM_URL = upstream.url;
  process.env.CIBOX_UPSTREAM_KEY = upstreamKey;
  let stack: Stack;
  try {
    stack = await startStack({
      apiKeys: keys,
      dataDir,
      workers: 1,
      env: {
        LOG_LEVEL: 'warn',
        MAX_UPLOAD_BYTES: String(8 * 1024 * 1024),
        SANDBOX_IMAGE: process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest',
        WARM_POOL_SIZE: '2',
        MODEL_BASE_URL: upstream.baseUrl,
        MODEL_API_KEY: upstreamKey,
        SIGNING_SECRET: signingSecret,
        // Receivers in tests listen on loopback; retries come fast and attempts end soon.
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_MAX_ATTEMPTS: '4',
        WEBHOOK_RETRY_BASE_MS: '200',
        WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
  } catch (err) {
    await upstream.process.stop();
    throw err;
  }
  globalThis.__CIBOX_STACK__ = stack;
  process.env.CIBOX_BASE_URL = stack.baseUrl;
  process.env.CIBOX_KEY_A = keys[0];
  process.env.CIBOX_KEY_B = keys[1];
  process.env.CIBOX_SIGNING_SECRET = signingSecret;
  process.env.CIBOX_REDIS_URL = stack.redisUrl;
  process.env.CIBOX_S3_ENDPOINT = stack.s3Endpoint;
  process.env.CIBOX_DATA_DIR = dataDir;
  // Tests that abuse a sandbox check that the one worker serving everyone is still the same process.
  process.env.CIBOX_WORKER_PID = String(stack.processes.find((p) => p.name.startsWith('worker'))?.child.pid ?? '');
  process.env.CIBOX_MAX_UPLOAD_BYTES = String(8 * 1024 * 1024);
}
