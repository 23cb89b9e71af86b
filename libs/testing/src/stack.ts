import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { eventually } from './eventually';

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
  workers?: number;
  /** Extra environment for api and worker. */
  env?: Record<string, string>;
  /** Print service output to the console instead of only to log files. */
  inheritOutput?: boolean;
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface Stack {
  baseUrl: string;
  port: number;
  redisUrl: string;
  s3Endpoint: string;
  env: Record<string, string>;
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

function launch(name: string, cmd: string, args: string[], env: Record<string, string>, opts: StackOptions): ManagedProcess {
  const logFile = path.join(opts.dataDir, `${name}.log`);
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.pipe(log, { end: false });
    if (opts.inheritOutput) stream?.on('data', (d: Buffer) => process.stdout.write(`[${name}] ${d.toString()}`));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

const nodeApp = (app: 'api' | 'worker') => ['-r', path.join(ROOT, 'tools', 'register-paths.cjs'), path.join(ROOT, 'dist', 'apps', app, 'src', 'main.js')];

/** Starts Redis (unless given), the S3 server (unless given), the api and the workers, and waits for /health. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop();
  };
  try {
    let redisUrl = opts.redisUrl;
    if (!redisUrl) {
      const port = opts.redisPort || (await freePort());
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dataDir, '--save', ''];
      args.push('--appendonly', opts.persistRedis ? 'yes' : 'no');
      processes.push(launch('redis', 'redis-server', args, {}, opts));
      await eventually(() => tcpReachable('127.0.0.1', port), { timeoutMs: 15_000 });
      redisUrl = `redis://127.0.0.1:${port}`;
    }
    let s3Endpoint = opts.s3Endpoint;
    if (!s3Endpoint) {
      const port = await freePort();
      processes.push(
        launch('s3', process.execPath, [path.join(ROOT, 'dist', 'tools', 's3-server.js'), '--port', String(port), '--dir', path.join(opts.dataDir, 's3')], {}, opts),
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
    processes.push(launch('api', process.execPath, nodeApp('api'), env, opts));
    const startWorker = (id: string, extra: Record<string, string> = {}) => {
      const p = launch(`worker-${id}`, process.execPath, nodeApp('worker'), { ...env, WORKER_ID: id, ...extra }, opts);
      processes.push(p);
      return Promise.resolve(p);
    };
    for (let i = 0; i < (opts.workers ?? 1); i++) await startWorker(`w${i + 1}`);
    const baseUrl = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        for (const p of processes) if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}; see ${opts.dataDir}/${p.name}.log`);
        const res = await fetch(`${baseUrl}/health`);
        if (res.status !== 200) throw new Error(`health: ${res.status} ${await res.text()}`);
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    return { baseUrl, port, redisUrl, s3Endpoint, env, processes, startWorker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
