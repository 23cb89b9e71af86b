import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import type { DockerEngineAddress } from '@cibox/config';
import { KernelProtocolError, KernelSession } from './kernel-session';
import { seccompSecurityOpt } from './seccomp-profile';
import {
  DEPLOYMENT_LABEL,
  SANDBOX_LABEL,
  SandboxEngineError,
  type EngineInfo,
  type ManagedSandboxInfo,
  type Sandbox,
  type SandboxDriver,
  type SandboxSpec,
} from './sandbox-driver';

export interface DockerSandboxSettings {
  /** The engine to drive (DOCKER_HOST and its TLS files, as libs/config read them). */
  engine: DockerEngineAddress;
  image: string;
  /** This installation's id (shared by its workers through Redis); labels and scopes its sandboxes. */
  deployment: string;
  /** Size cap of /mnt/data (a tmpfs). */
  diskBytes: number;
  pidsLimit: number;
  cpus: number;
  /** How long a kernel may take to start before the sandbox is abandoned. */
  startTimeoutMs?: number;
}

const SANDBOX_UID = '1000:1000';
/** How long the engine may take to answer the start-up check before the worker gives up on it. */
const ENGINE_ANSWER_MS = 15_000;

/**
 * dockerode's options for an engine. docker-modem also reads DOCKER_HOST and the TLS variables by
 * itself (merged under these options); giving every option makes the validated reading the one in force.
 */
function dockerOptions(engine: DockerEngineAddress): Docker.DockerOptions {
  if (engine.kind === 'unix') return { socketPath: engine.socketPath };
  const tls = engine.tls;
  if (!tls) return { host: engine.host, port: engine.port, protocol: 'http' };
  return { host: engine.host, port: engine.port, protocol: 'https', ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${what} within ${ms / 1000} s`)), ms).unref())]);

/**
 * Sandboxes as hardened Docker containers: no network, every capability dropped, no new
 * privileges, our seccomp profile, read-only root, non-root user, tini as PID 1, memory/pids/CPU
 * limits, a size-capped tmpfs at /mnt/data, and only the environment we give (never the host's).
 */
export class DockerSandboxDriver implements SandboxDriver {
  private readonly docker: Docker;

  constructor(private readonly settings: DockerSandboxSettings) {
    this.docker = new Docker(dockerOptions(settings.engine));
  }

  async checkEngine(): Promise<EngineInfo> {
    const { address } = this.settings.engine;
    const image = this.settings.image;
    type Info = { ID: string; Name: string; ServerVersion: string; NCPU: number; MemTotal: number };
    const info = await within(this.docker.info() as Promise<Info>, ENGINE_ANSWER_MS, 'docker info').catch((err: Error) => {
      throw new SandboxEngineError(`cannot reach the Docker engine at ${address} (DOCKER_HOST): ${err.message}`);
    });
    await within(this.docker.getImage(image).inspect(), ENGINE_ANSWER_MS, 'docker image inspect').catch((err: Error & { statusCode?: number }) => {
      if (err.statusCode !== 404) throw new SandboxEngineError(`cannot inspect the sandbox image ${image} on the Docker engine at ${address}: ${err.message}`);
      throw new SandboxEngineError(
        `the sandbox image ${image} (SANDBOX_IMAGE) is not on the Docker engine at ${address}: build it there ` +
          `(npx tsx tools/sandbox-image.ts) or copy it (docker save ${image} | docker -H ${address} load)`,
      );
    });
    return { address, id: info.ID, name: info.Name, version: info.ServerVersion, cpus: info.NCPU, memoryBytes: info.MemTotal };
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const container = await this.docker.createContainer({
      Image: this.settings.image,
      User: SANDBOX_UID,
      WorkingDir: '/mnt/data',
      Env: ['HOME=/tmp', 'MPLBACKEND=Agg', 'PYTHONDONTWRITEBYTECODE=1', 'PYTHONUNBUFFERED=1', 'LANG=C.UTF-8', 'TMPDIR=/tmp'],
      Labels: { ...spec.labels, [SANDBOX_LABEL]: '1', [DEPLOYMENT_LABEL]: this.settings.deployment },
      OpenStdin: true,
      StdinOnce: false,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges', seccompSecurityOpt()],
        Init: true,
        Memory: spec.memoryBytes,
        MemorySwap: spec.memoryBytes,
        PidsLimit: this.settings.pidsLimit,
        NanoCpus: Math.round(this.settings.cpus * 1e9),
        CpuShares: spec.cpuShares,
        IpcMode: 'private',
        Tmpfs: {
          '/tmp': 'rw,nosuid,nodev,size=64m',
          '/mnt/data': `rw,nosuid,nodev,size=${this.settings.diskBytes},uid=1000,gid=1000,mode=0755`,
        },
        Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 4096 }],
      },
    });
    try {
      const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      // docker-modem is untyped; demuxStream splits Docker's multiplexed stdout/stderr frames.
      (container.modem as { demuxStream(s: NodeJS.ReadableStream, o: PassThrough, e: PassThrough): void }).demuxStream(stream, stdout, stderr);
      stream.on('end', () => {
        stdout.end();
        stderr.end();
      });
      stderr.resume(); // the runner routes user output through the protocol; its own stderr is noise
      const session = new KernelSession(stream as unknown as Writable, stdout);
      // A sandbox that broke the protocol is stopped at once, whoever holds it: its code keeps
      // running otherwise, and nothing more it says will be read.
      session.onFailure((err) => {
        if (err instanceof KernelProtocolError) void this.remove(container.id).catch(() => undefined);
      });
      await container.start();
      const timeout = this.settings.startTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        session.ready,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`sandbox kernel not ready after ${timeout} ms`)), timeout);
        }),
      ]).finally(() => clearTimeout(timer));
      return {
        id: container.id,
        session,
        update: async ({ memoryBytes, cpuShares }) => {
          await container.update({ Memory: memoryBytes, MemorySwap: memoryBytes, CpuShares: cpuShares });
        },
        wasOomKilled: async () => {
          const info = await container.inspect().catch(() => null);
          return info?.State?.OOMKilled === true;
        },
        remove: () => this.remove(container.id),
      };
    } catch (err) {
      await this.remove(container.id);
      throw err;
    }
  }

  async listManaged(): Promise<ManagedSandboxInfo[]> {
    // Only this installation's: another one on the same engine has its own workers and reaper.
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${SANDBOX_LABEL}=1`, `${DEPLOYMENT_LABEL}=${this.settings.deployment}`] },
    });
    return list.map((c) => ({ id: c.Id, labels: c.Labels, createdAt: c.Created }));
  }

  async remove(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
      });
  }
}
