import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
// Jest's globalSetup loads this file outside its module map, so other libs are imported by path.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { DEPLOYMENT_LABEL, SANDBOX_LABEL, WORKER_LABEL } from '../../sandbox/src/sandbox-driver';
import { eventually } from './eventually';
import { launchProcess, type ManagedProcess, type Supervision } from './managed-process';

export type { ManagedProcess, Supervision } from './managed-process';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface StackOptions {
  /** Port of the api; 0 picks a free one. */
  port?: number;
  apiKeys: string[];
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /** Port for the Redis this starts (when `redisUrl` is unset); 0 or unset picks a free one. */
  redisPort?: number;
  /** Use this S3 endpoint instead of starting the embedded server. */
  s3Endpoint?: string;
  /** Where started services keep their data and logs. */
  dataDir: string;
  /** Keep Redis data on disk (append-only file), as `npm run up` does. */
  persistRedis?: boolean;
  /** How many workers (`w1`, `w2`…), or the extra environment of each (their caps, say). */
  workers?: number | Record<string, string>[];
  /** Extra environment for api and worker. */
  env?: Record<string, string>;
  /** Print service output to the console instead of only to log files. */
  inheritOutput?: boolean;
  /**
   * Restart a process that exits on its own (api, workers, and the Redis and S3 server this
   * started), with exponential back-off. (Whether supervised or not, stop removes the sandboxes a
   * crashed or killed worker left behind.) `npm run up` sets it; the e2e suite does not, since it kills workers on purpose.
   */
  supervise?: Supervision;
}

export interface Stack {
  baseUrl: string;
  port: number;
  redisUrl: string;
  s3Endpoint: string;
  env: Record<string, string>;
  /** Where the processes' logs are (`<name>.log`, e.g. `worker-w1.log`). */
  dataDir: string;
  processes: ManagedProcess[];
  /** Starts one more worker process (for scale-out and failure tests). */
  startWorker(id: string, env?: Record<string, string>): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function tcpReachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts a Redis of its own (on `port`, else a free one; kept on disk with `persist`) and waits
 * until it accepts connections. `launch` runs `redis-server` with the given arguments.
 */
export async function startRedis(opts: {
  dataDir: string;
  port?: number;
  persist?: boolean;
  launch?: (args: string[]) => ManagedProcess;
}): Promise<{ url: string; process: ManagedProcess }> {
  const port = opts.port || (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dataDir, '--save', '', '--appendonly', opts.persist ? 'yes' : 'no'];
  const launch =
    opts.launch ?? ((a: string[]) => launchProcess({ name: 'redis', cmd: 'redis-server', args: a, cwd: ROOT, env: process.env, logFile: path.join(opts.dataDir, 'redis.log') }));
  const redis = launch(args);
  try {
    await eventually(
      () => {
        if (redis.child.exitCode !== null) throw new Error(`redis-server exited with ${redis.child.exitCode}; see ${opts.dataDir}/redis.log`);
        return tcpReachable('127.0.0.1', port);
      },
      { timeoutMs: 15_000 },
    );
  } catch (err) {
    await redis.stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, process: redis };
}

const nodeApp = (app: 'api' | 'worker') => ['-r', path.join(ROOT, 'tools', 'register-paths.cjs'), path.join(ROOT, 'dist', 'apps', app, 'src', 'main.js')];

/** Starts Redis (unless given), the S3 server (unless given), the api and the workers, and waits for /health. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const workerIds: string[] = [];
  let deployment: string | null = null;
  let stopping = false;
  const launch = (name: string, cmd: string, args: string[], env: Record<string, string>) =>
    launchProcess({
      name,
      cmd,
      args,
      cwd: ROOT,
      env: { ...process.env, ...env },
      logFile: path.join(opts.dataDir, `${name}.log`),
      inheritOutput: opts.inheritOutput,
      supervise: opts.supervise,
      shuttingDown: () => stopping,
    });
  const stop = async () => {
    stopping = true;
    for (const p of [...processes].reverse()) await p.stop();
    if (deployment) await removeSandboxes(deployment, workerIds);
  };
  try {
    let redisUrl = opts.redisUrl;
    if (!redisUrl) {
      const redis = await startRedis({ dataDir: opts.dataDir, port: opts.redisPort, persist: opts.persistRedis, launch: (args) => launch('redis', 'redis-server', args, {}) });
      processes.push(redis.process);
      redisUrl = redis.url;
    }
    let s3Endpoint = opts.s3Endpoint;
    if (!s3Endpoint) {
      const port = await freePort();
      processes.push(
        launch('s3', process.execPath, [path.join(ROOT, 'dist', 'tools', 's3-server.js'), '--port', String(port), '--dir', path.join(opts.dataDir, 's3')], {}),
      );
      await eventually(() => tcpReachable('127.0.0.1', port), { timeoutMs: 15_000 });
      s3Endpoint = `http://127.0.0.1:${port}`;
    }
    const port = opts.port || (await freePort());
    const env: Record<string, string> = {
      PORT: String(port),
      REDIS_URL: redisUrl,
      S3_ENDPOINT: s3Endpoint,
      API_KEYS: opts.apiKeys.join(','),
      ...opts.env,
    };
    processes.push(launch('api', process.execPath, nodeApp('api'), env));
    const startWorker = (id: string, extra: Record<string, string> = {}) => {
      const p = launch(`worker-${id}`, process.execPath, nodeApp('worker'), { ...env, WORKER_ID: id, ...extra });
      processes.push(p);
      workerIds.push(id);
      return Promise.resolve(p);
    };
    const workers = typeof opts.workers === 'number' || opts.workers === undefined ? Array.from({ length: opts.workers ?? 1 }, () => ({})) : opts.workers;
    for (const [i, extra] of workers.entries()) await startWorker(`w${i + 1}`, extra);
    const baseUrl = `http://127.0.0.1:${port}`;
    // A process that exited will not become healthy: say so at once rather than at the deadline.
    const exited = await eventually(
      async () => {
        const dead = processes.find((p) => p.child.exitCode !== null);
        if (dead) return dead;
        const res = await fetch(`${baseUrl}/health`);
        if (res.status !== 200) throw new Error(`health: ${res.status} ${await res.text()}`);
        return 'healthy';
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    if (exited !== 'healthy') throw new Error(`${exited.name} exited with ${exited.child.exitCode}; see ${opts.dataDir}/${exited.name}.log`);
    // Healthy means a worker is up, and so has set the deployment id its sandboxes are labelled with.
    deployment = await readDeployment(redisUrl);
    return { baseUrl, port, redisUrl, s3Endpoint, env, dataDir: opts.dataDir, processes, startWorker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The scripted upstream (scripted-upstream.ts) as its own process, so a test blocking its event loop cannot stall it. */
export async function launchScriptedUpstream(opts: { dataDir: string; apiKey: string; inheritOutput?: boolean }): Promise<{ url: string; baseUrl: string; process: ManagedProcess }> {
  mkdirSync(opts.dataDir, { recursive: true });
  const port = await freePort();
  const child = launchProcess({
    name: 'upstream',
    cmd: process.execPath,
    args: [path.join(ROOT, 'dist', 'tools', 'scripted-upstream.js'), '--port', String(port)],
    cwd: ROOT,
    env: { ...process.env, SCRIPTED_UPSTREAM_API_KEY: opts.apiKey },
    logFile: path.join(opts.dataDir, 'upstream.log'),
    inheritOutput: opts.inheritOutput,
  });
  try {
    await eventually(
      () => {
        if (child.child.exitCode !== null) throw new Error(`the scripted upstream exited with ${child.child.exitCode}; see ${opts.dataDir}/upstream.log`);
        return tcpReachable('127.0.0.1', port);
      },
      { timeoutMs: 15_000 },
    );
  } catch (err) {
    await child.stop();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  return { url, baseUrl: `${url}/v1`, process: child };
}

/**
 * A stack of its own for one end-to-end suite that kills or restarts its processes: one worker
 * (unless `workers` says otherwise), a warm pool of one, quiet logs, the image under test
 * (`SANDBOX_IMAGE`), and one key for it.
 */
export async function startSuiteStack(name: string, opts: Pick<StackOptions, 'env' | 'supervise' | 'workers'> = {}): Promise<{ stack: Stack; key: string }> {
  const key = `sk-${name}-${randomBytes(6).toString('hex')}`;
  const stack = await startStack({
    apiKeys: [key],
    dataDir: mkdtempSync(path.join(os.tmpdir(), `cibox-${name}-`)),
    workers: opts.workers ?? 1,
    env: { LOG_LEVEL: 'warn', SANDBOX_IMAGE: process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest', WARM_POOL_SIZE: '1', ...opts.env },
    supervise: opts.supervise,
  });
  return { stack, key };
}

async function readDeployment(redisUrl: string): Promise<string | null> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await redis.get('cibox:deployment');
  } finally {
    redis.disconnect();
  }
}

/**
 * A worker stopped with SIGTERM removes its own sandboxes; one that crashed (and was waiting for
 * its restart when the stack stopped, or restarted too recently to have reaped them) cannot, nor
 * one killed because its drain waited on a long execution past the stop's 10 s.
 */
async function removeSandboxes(deployment: string, workerIds: string[]): Promise<void> {
  const filters = ['--filter', `label=${SANDBOX_LABEL}=1`, '--filter', `label=${DEPLOYMENT_LABEL}=${deployment}`];
  const { stdout } = await promisify(execFile)('docker', ['ps', '-a', ...filters, '--format', `{{.ID}} {{.Label "${WORKER_LABEL}"}}`]);
  const ids = stdout
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([id, worker]) => id && worker && workerIds.includes(worker))
    .map(([id]) => id!);
  if (ids.length > 0) await promisify(execFile)('docker', ['rm', '-f', ...ids]);
}
