import type { KernelSession } from './kernel-session';

export const SANDBOX_LABEL = 'cibox.sandbox';
export const WORKER_LABEL = 'cibox.worker';
/** Which installation a sandbox belongs to: installations sharing a Docker engine never touch each other's. */
export const DEPLOYMENT_LABEL = 'cibox.deployment';

export interface SandboxSpec {
  memoryBytes: number;
  /** Relative CPU weight (Docker's default is 1024); warm sandboxes start low. */
  cpuShares: number;
  /** Labels that let a reaper find the sandbox after a crash. */
  labels: Record<string, string>;
}

/** One started sandbox: a Docker container running the kernel, and the session that talks to it. */
export interface Sandbox {
  readonly id: string;
  readonly session: KernelSession;
  /** Changes the limits of the running sandbox (a pooled one takes its container's tier). */
  update(limits: { memoryBytes: number; cpuShares: number }): Promise<void>;
  /** True when the kernel was killed for exceeding its memory limit. */
  wasOomKilled(): Promise<boolean>;
  remove(): Promise<void>;
}

export interface ManagedSandboxInfo {
  id: string;
  labels: Record<string, string>;
  /** Unix seconds. */
  createdAt: number;
}

/** The container engine a driver runs its sandboxes on, as the engine describes itself. */
export interface EngineInfo {
  /** How the worker reaches it (DOCKER_HOST, port made explicit). */
  address: string;
  /** `docker info`'s ID and Name (the engine host's name). Engines of one host may share the ID. */
  id: string;
  name: string;
  version: string;
  cpus: number;
  memoryBytes: number;
}

/** The engine cannot run sandboxes: it does not answer, or the sandbox image is not on it. */
export class SandboxEngineError extends Error {}

/** The port in front of the container engine. */
export interface SandboxDriver {
  /** Reaches the engine and checks that the sandbox image is on it; a SandboxEngineError says what is wrong. */
  checkEngine(): Promise<EngineInfo>;
  create(spec: SandboxSpec): Promise<Sandbox>;
  listManaged(): Promise<ManagedSandboxInfo[]>;
  remove(id: string): Promise<void>;
}

/** CPU weight of a sandbox serving a container, and of one waiting in the warm pool. */
export const ACTIVE_CPU_SHARES = 1024;
export const WARM_CPU_SHARES = 64;
