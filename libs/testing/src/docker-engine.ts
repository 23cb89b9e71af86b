import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
// Jest's globalSetup loads this file outside its module map, so other libs are imported by path.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { SANDBOX_LABEL } from '../../sandbox/src/sandbox-driver';
import { ensureDebianPackages } from './debian-packages';
import { eventually } from './eventually';
import { launchProcess, type ManagedProcess } from './managed-process';
import { freePort } from './stack';

const run = promisify(execFile);

export interface DockerEngineOptions {
  /**
   * Names its directories: `/var/lib/<name>` holds its images and is kept between runs, so that
   * the images are copied in once; `/run/<name>` its socket, exec root, pid file and log.
   */
  name?: string;
  /** Images to copy from the default engine (`docker save | docker load`) when the engine lacks them. */
  images: string[];
  log?: (line: string) => void;
}

export interface DockerEngine {
  /** Its DOCKER_HOST: a unix socket. */
  host: string;
  /** The same engine over TCP with TLS, as a remote one is reached: DOCKER_HOST, and the DOCKER_CERT_PATH of a client it trusts. */
  tls: { host: string; certPath: string };
  /** Runs the docker CLI against it; resolves to stdout. */
  docker(args: string[]): Promise<string>;
  /** Removes every sandbox on it, then stops it. */
  stop(): Promise<void>;
}

/** The docker CLI against the engine at `host` (a DOCKER_HOST); resolves to its stdout. */
export function dockerAt(host: string): (args: string[]) => Promise<string> {
  return async (args) => (await run('docker', ['-H', host, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A CA of its own, a server certificate for 127.0.0.1 and a client certificate (in `<dir>/client`, as DOCKER_CERT_PATH wants them). */
const MAKE_CERTIFICATES = `set -euo pipefail
cd "$1"
key() { openssl req "$@" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 2>/dev/null; }
key -x509 -keyout ca-key.pem -out ca.pem -subj "/CN=cibox test CA"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for who in server client; do
  key -keyout $who-key.pem -out $who.csr -subj "/CN=cibox $who"
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca-key.pem -set_serial 0x$(openssl rand -hex 8) -days 2 -extfile $who.ext -out $who-cert.pem 2>/dev/null
done
mkdir -p client && cp ca.pem client/ca.pem && cp client-cert.pem client/cert.pem && cp client-key.pem client/key.pem`;

/**
 * Starts a Docker engine of its own beside the machine's one (own socket, data root and exec root;
 * the flags `npm test` starts the first with), listening on a unix socket and on 127.0.0.1 with
 * TLS, for tests of workers on several engines. A run holds it alone: a second run on the machine
 * waits for the first to stop it; an engine that a killed run left behind is stopped first.
 */
export async function startDockerEngine(opts: DockerEngineOptions): Promise<DockerEngine> {
  const name = opts.name ?? 'cibox-docker-2';
  const log = opts.log ?? (() => undefined);
  if (process.getuid?.() !== 0) throw new Error(`starting the Docker engine ${name} needs root, as dockerd does`);
  const runDir = `/run/${name}`;
  const dataRoot = `/var/lib/${name}`;
  const host = `unix://${runDir}/docker.sock`;
  const pidFile = path.join(runDir, 'docker.pid');
  const docker = dockerAt(host);
  const answers = () => docker(['info', '--format', '{{.ID}}']).then(() => true, () => false);
  const release = await lock(`${runDir}.lock`, log);
  const t0 = Date.now();
  let daemon: ManagedProcess | null = null;
  try {
    mkdirSync(runDir, { recursive: true });
    mkdirSync(dataRoot, { recursive: true });
    if (await answers()) {
      log(`stopping the Docker engine at ${host} that an earlier run left`);
      await stopByPidFile(pidFile);
    }
    const certs = path.join(runDir, 'tls');
    rmSync(certs, { recursive: true, force: true });
    mkdirSync(certs);
    ensureDebianPackages({ openssl: 'openssl' }, log);
    await run('bash', ['-c', MAKE_CERTIFICATES, 'certificates', certs]);
    const tlsHost = `tcp://127.0.0.1:${await freePort()}`;
    const logFile = path.join(runDir, 'dockerd.log');
    const tlsArgs = ['--tlsverify', '--tlscacert', path.join(certs, 'ca.pem'), '--tlscert', path.join(certs, 'server-cert.pem'), '--tlskey', path.join(certs, 'server-key.pem')];
    const args = ['--host', host, '--host', tlsHost, ...tlsArgs, '--data-root', dataRoot, '--exec-root', path.join(runDir, 'exec'), '--pidfile', pidFile];
    // As tools/prereqs.ts starts the first engine: no default bridge and no iptables, sandboxes run with --network none.
    daemon = launchProcess({ name, cmd: 'dockerd', args: [...args, '--iptables=false', '--ip-masq=false', '--bridge=none'], cwd: '/', env: process.env, logFile });
    const started = daemon;
    await eventually(
      () => {
        if (started.child.exitCode !== null) throw new Error(`dockerd ${name} exited with ${started.child.exitCode}; see ${logFile}`);
        return answers();
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    log(`dockerd answers at ${host} and ${tlsHost} (TLS) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const tls = { host: tlsHost, certPath: path.join(certs, 'client') };
    const engine: DockerEngine = { host, tls, docker, stop: () => stop(engine, started, release) };
    await removeSandboxes(engine);
    for (const image of opts.images) {
      if (await docker(['image', 'inspect', image]).then(() => true, () => false)) continue;
      const t1 = Date.now();
      await run('bash', ['-c', 'set -o pipefail; docker save "$1" | docker -H "$2" load', 'load', image, host]);
      log(`copied ${image} into ${name} in ${((Date.now() - t1) / 1000).toFixed(1)} s (kept in ${dataRoot} for the next run)`);
    }
    return engine;
  } catch (err) {
    await daemon?.stop();
    release();
    throw err;
  }
}

/** Sandboxes a previous run left on the engine would only pile up: nothing else uses it. */
async function removeSandboxes(engine: DockerEngine): Promise<void> {
  const ids = (await engine.docker(['ps', '-aq', '--filter', `label=${SANDBOX_LABEL}=1`])).split('\n').filter(Boolean);
  if (ids.length > 0) await engine.docker(['rm', '-f', ...ids]);
}

async function stop(engine: DockerEngine, daemon: ManagedProcess, release: () => void): Promise<void> {
  try {
    await removeSandboxes(engine).catch(() => undefined);
    await daemon.stop();
  } finally {
    release();
  }
}

/** Stops a dockerd that is not our child (a killed run's) through its pid file. */
async function stopByPidFile(pidFile: string): Promise<void> {
  const pid = Number(readFileSync(pidFile, 'utf8'));
  process.kill(pid, 'SIGTERM');
  await eventually(() => !alive(pid), { timeoutMs: 60_000, intervalMs: 100 });
}

/** Takes a lock directory holding the owner's pid, waiting while a live process holds it; returns its release. */
async function lock(dir: string, log: (line: string) => void): Promise<() => void> {
  let told = false;
  await eventually(
    () => {
      // The directory appears with the pid in it at once: renaming onto a directory that exists fails.
      const mine = `${dir}.${process.pid}`;
      mkdirSync(mine, { recursive: true });
      writeFileSync(path.join(mine, 'pid'), String(process.pid));
      try {
        renameSync(mine, dir);
        return true;
      } catch (err) {
        rmSync(mine, { recursive: true, force: true });
        if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      }
      const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
      if (!alive(pid)) {
        rmSync(dir, { recursive: true, force: true }); // its holder died without releasing it
      } else if (!told) {
        log(`waiting for process ${pid}, which holds ${dir}`);
        told = true;
      }
      return false;
    },
    { timeoutMs: 30 * 60_000, intervalMs: 500 },
  );
  return () => rmSync(dir, { recursive: true, force: true });
}
