/**
 * Everything `npm run up` and `npm test` need on a fresh Debian machine, installed or started
 * when missing: Debian packages, the Docker engine, the sandbox image, and the compiled apps.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { ensureChromium } from '../libs/testing/src/browser';
import { ensureDebianPackages, installDebianPackages } from '../libs/testing/src/debian-packages';
import { ensurePythonClient } from '../libs/testing/src/python-client';
import { ensurePlayground } from './playground';
import { ensureSandboxImage } from './sandbox-image';

export const ROOT = path.resolve(__dirname, '..');
const log = (msg: string) => process.stdout.write(`[prereqs] ${msg}\n`);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with status ${r.status}`);
}

function dockerReachable(): boolean {
  return spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** Starts dockerd in the background when no engine answers; it outlives this process on purpose. */
export async function ensureDocker(): Promise<void> {
  if (dockerReachable()) return;
  log('starting dockerd (no Docker engine was reachable)');
  mkdirSync(path.join(ROOT, '.data'), { recursive: true });
  const out = openSync(path.join(ROOT, '.data', 'dockerd.log'), 'a');
  // No default bridge and no iptables: sandboxes run with --network none.
  const child = spawn('dockerd', ['--iptables=false', '--ip-masq=false', '--bridge=none'], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!dockerReachable()) {
    if (Date.now() > deadline) throw new Error('dockerd did not become reachable within 60 s; see .data/dockerd.log');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Compiles the api, worker and libs (tsc's incremental build), and builds the playground page if its sources changed. */
export function buildApps(): void {
  log('compiling TypeScript');
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')]);
  ensurePlayground({ log });
}

/** Debian's Chromium, which the playground's end-to-end test drives (installed if missing). */
export function ensureBrowserForTests(): void {
  ensureChromium(log);
}

/**
 * A Python with the official `openai` package for the e2e suite (a venv under .cache/python; see
 * libs/testing/src/python-client.ts), installing Debian's python3 and its venv module if missing.
 * Returns the interpreter's path.
 */
export function ensurePythonForTests(): string {
  ensureDebianPackages({ python3: 'python3' }, log);
  if (spawnSync('python3', ['-c', 'import ensurepip, venv'], { stdio: 'ignore' }).status !== 0) {
    installDebianPackages(['python3-venv'], log);
  }
  return ensurePythonClient(ROOT, log);
}

/** Returns the sandbox image tag. */
export async function ensurePrerequisites(): Promise<string> {
  ensureDebianPackages({ 'redis-server': 'redis-server', dockerd: 'docker.io', debootstrap: 'debootstrap', 'docker-compose': 'docker-compose' }, log);
  await ensureDocker();
  const image = await ensureSandboxImage({ log: (line) => process.stdout.write(`[sandbox-image] ${line}\n`) });
  buildApps();
  return image;
}
