import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ExecutionEvent, ExecutionObject, MemoryLimit } from '@cibox/contracts';

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
  /** Pub/sub channel of the api instance waiting for this execution's events. */
  replyChannel: string;
  /** Whether anyone wants output as it happens; if not, only `done` is published. */
  stream: boolean;
}

/** What a worker publishes on a reply channel: one execution event, tagged with its execution. */
export interface ExecutionEventEnvelope {
  executionId: string;
  event: ExecutionEvent;
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
  /** The installation's id, made once by the first worker: scopes its Docker sandboxes. */
  deployment: 'cibox:deployment',
  /** Pub/sub channel of one api instance: every execution it waits on reports there. */
  apiReplyChannel: (instanceId: string) => `cibox:api-events:${instanceId}`,
  /** Bumped on every change to a container's files, so a worker can skip an unchanged sync. */
  containerFilesVersion: (containerId: string) => `cibox:cfiles-version:${containerId}`,
  /** Set by the worker that starts an execution: a second start (after a stall) must not run it again. */
  executionStarted: (executionId: string) => `cibox:execution-started:${executionId}`,
  /** The execution object: an `in_progress` placeholder from the api, then the worker's result. */
  execution: (executionId: string) => `cibox:execution:${executionId}`,
};

/** Executions (in progress, then finished) stay readable for a day. */
export const EXECUTION_TTL_S = 24 * 3600;

/**
 * Stores an execution record unless a finished one is already there: for whoever ends an execution
 * that its worker never finished (the api after its deadline, a worker rescuing a dead one's jobs),
 * so a late real result is never replaced by a guess, while an `in_progress` placeholder is.
 */
export async function storeUnlessFinished(redis: Redis, record: StoredExecution): Promise<boolean> {
  const stored = await redis.eval(
    "local v = redis.call('get', KEYS[1]) if v and cjson.decode(v).execution.status ~= 'in_progress' then return 0 end redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1",
    1,
    redisKeys.execution(record.execution.id),
    JSON.stringify(record),
    EXECUTION_TTL_S,
  );
  return stored === 1;
}

/** What Redis holds under `redisKeys.execution`: the execution and the tenant that may read it. */
export interface StoredExecution {
  tenant: string;
  execution: ExecutionObject;
}

export async function loadExecution(redis: Redis, executionId: string): Promise<StoredExecution | null> {
  const raw = await redis.get(redisKeys.execution(executionId));
  return raw ? (JSON.parse(raw) as StoredExecution) : null;
}

/** A job's execution object: ids and times from the job, `fields` over empty output. */
export function executionObject(job: ExecuteJobData, fields: Pick<ExecutionObject, 'status'> & Partial<ExecutionObject>): ExecutionObject {
  return {
    id: job.executionId,
    object: 'container.execution',
    container_id: job.containerId,
    created_at: job.createdAt,
    stdout: '',
    stderr: '',
    results: [],
    error: null,
    files: [],
    duration_ms: 0,
    state_lost: false,
    truncated: { stdout: false, stderr: false },
    ...fields,
  };
}

/** This installation's id: every worker sharing the Redis gets the same one. */
export async function deploymentId(redis: Redis): Promise<string> {
  await redis.set(redisKeys.deployment, randomBytes(8).toString('hex'), 'NX');
  const id = await redis.get(redisKeys.deployment);
  if (!id) throw new Error('could not read the deployment id from Redis');
  return id;
}

/** Producers for queues named at run time: one `Queue` per name, on its own connection, closed together. */
export class QueueProducers {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly redis: Redis) {}

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.redis.duplicate({ maxRetriesPerRequest: null }) });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

export const WORKER_HEARTBEAT_TTL_MS = 5_000;
export const WORKER_HEARTBEAT_INTERVAL_MS = 1_000;

/** Sorted set of worker ids scored by their last heartbeat (ms). */
export const WORKERS_ZSET = 'cibox:workers';

/** Ids of workers whose heartbeat is younger than `ttlMs`. */
export async function liveWorkers(redis: Redis, ttlMs = WORKER_HEARTBEAT_TTL_MS): Promise<string[]> {
  return redis.zrangebyscore(WORKERS_ZSET, Date.now() - ttlMs, '+inf');
}
