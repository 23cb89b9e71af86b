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

/**
 * How long a worker may take over an execution once it starts it: a sandbox start, the cell's own
 * timeout, the grace an interrupted cell gets before its sandbox is killed, and the file sync after.
 * The api waits this long (plus time in the queue) before it records the execution as failed.
 */
export const EXECUTION_LIMITS = {
  sandboxStartMs: 30_000,
  interruptGraceMs: 2_000,
  fileSyncMs: 120_000,
} as const;

export function executionBoundMs(timeoutMs: number): number {
  return EXECUTION_LIMITS.sandboxStartMs + timeoutMs + EXECUTION_LIMITS.interruptGraceMs + EXECUTION_LIMITS.fileSyncMs;
}

/** Pub/sub channel of one api instance: every execution it waits on reports there. */
export const apiReplyChannel = (instanceId: string) => `cibox:api-events:${instanceId}`;

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

/**
 * Producers for queues named at run time (a worker's own queue is named after it). Every `Queue`
 * shares one connection, so routing to many workers, or to workers that come and go, opens no
 * connection per name; producers of queues not used for a while are dropped.
 */
export class QueueProducers {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly maxQueues = 64,
  ) {}

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue) {
      this.queues.delete(name); // re-inserted below: the map's order is least recently used first
    } else {
      queue = new Queue(name, { connection: this.connection });
      if (this.queues.size >= this.maxQueues) {
        const [oldest, producer] = this.queues.entries().next().value as [string, Queue];
        this.queues.delete(oldest);
        void producer.close().catch(() => undefined);
      }
    }
    this.queues.set(name, queue);
    return queue;
  }

  async add(name: string, job: SandboxJob, jobId?: string): Promise<void> {
    await this.get(name).add(job.name, job.data, { jobId, removeOnComplete: true, removeOnFail: 1000 });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
