import type { Redis } from 'ioredis';
import type { MemoryLimit } from '@cibox/contracts';

/**
 * Sandbox jobs go to the queue of the worker that owns the container (a container lives on one
 * worker); a container with no live owner goes to the shared queue, where any worker claims it.
 */
export const SHARED_SANDBOX_QUEUE = 'sandbox';
export const workerSandboxQueue = (workerId: string) => `sandbox-${workerId}`;

export interface ExecuteJobData {
  executionId: string;
  containerId: string;
  tenant: string;
  code: string;
  timeoutMs: number;
  memoryLimit: MemoryLimit;
  createdAt: number;
}

export interface DestroyJobData {
  containerId: string;
}

/** Every sandbox job, discriminated by name, so producer and consumer cannot disagree on a payload. */
export type SandboxJob = { name: 'execute'; data: ExecuteJobData } | { name: 'destroy'; data: DestroyJobData };

export const redisKeys = {
  /** Expiring key a live worker refreshes; its absence means the worker is gone. */
  workerHeartbeat: (workerId: string) => `cibox:worker:${workerId}`,
  workerHeartbeatPattern: 'cibox:worker:*',
  /** Which worker holds the container's sandbox. */
  containerOwner: (containerId: string) => `cibox:container-owner:${containerId}`,
  /** Docker id of the container's current sandbox (for operators and tests). */
  containerSandbox: (containerId: string) => `cibox:container-sandbox:${containerId}`,
  /** Pub/sub channel of one execution's events. */
  executionChannel: (executionId: string) => `cibox:exec-events:${executionId}`,
  /** The finished execution object. */
  execution: (executionId: string) => `cibox:execution:${executionId}`,
};

export const WORKER_HEARTBEAT_TTL_MS = 5_000;
export const WORKER_HEARTBEAT_INTERVAL_MS = 1_000;

/** Sorted set of worker ids scored by their last heartbeat (ms). */
export const WORKERS_ZSET = 'cibox:workers';

/** Ids of workers whose heartbeat is younger than `ttlMs`. */
export async function liveWorkers(redis: Redis, ttlMs = WORKER_HEARTBEAT_TTL_MS): Promise<string[]> {
  return redis.zrangebyscore(WORKERS_ZSET, Date.now() - ttlMs, '+inf');
}
