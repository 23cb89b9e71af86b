import type { ExecutionEvent, ExecutionObject, MemoryLimit } from '@cibox/contracts';
import type { WebhookEventType } from '@cibox/webhooks';

/**
 * Sandbox jobs go to the queue of the worker that owns the container (a container lives on one
 * worker); a container with no live owner goes to the shared queue, where any worker claims it.
 *
 * Queue names live here. A queue whose name is fixed (webhooks, background responses, batches) is
 * registered where it is used, `BullModule.registerQueue({ name: WEBHOOK_QUEUE })`, produced to with
 * `@InjectQueue(WEBHOOK_QUEUE) queue: Queue` and consumed by a `@Processor(WEBHOOK_QUEUE)` class:
 * `QueueModule` gives every such queue its connection. Only queues named at run time, after a
 * worker's id, go through `QueueProducers`.
 */
export const SHARED_SANDBOX_QUEUE = 'sandbox';
/** Background responses: a static queue every api instance consumes (the model↔tool loop runs in the api). */
export const RESPONSES_QUEUE = 'responses';

/** A background response to run; everything else is in its stored record. */
export interface BackgroundResponseJob {
  responseId: string;
  /** The request that created it, for the logs of its run. */
  requestId?: string;
}
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
  /** The api request it came from, and the response whose tool call it is: for the worker's logs. */
  requestId?: string;
  responseId?: string;
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

/** Sandbox jobs leave their queue once done (the execution record holds the result); a few failed ones stay, to be looked at. */
export const SANDBOX_JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1000 } as const;

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
export function executionObject(
  job: Pick<ExecuteJobData, 'executionId' | 'containerId' | 'createdAt'>,
  fields: Pick<ExecutionObject, 'status'> & Partial<ExecutionObject>,
): ExecutionObject {
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
 * Batches, consumed by every api process. A batch has one `run` job for its whole life: it
 * validates the input file, then keeps at most BATCH_CONCURRENCY of its lines in the line queue,
 * reading the input as they end, and writes the output files at the end. Each line is a job of
 * its own, so the lines of a batch are shared among the api processes.
 */
export const BATCH_QUEUE = 'batches';
export const BATCH_LINE_QUEUE = 'batch-lines';

export interface BatchRunJobData {
  batchId: string;
}

export interface BatchLineJobData {
  batchId: string;
  /** Line number in the input file, from 1. */
  line: number;
  /** The line as it is in the file (it was validated before it was queued). */
  text: string;
}

export type BatchJob = { name: 'run'; data: BatchRunJobData };
export type BatchLineJob = { name: 'line'; data: BatchLineJobData };

/** A batch's line jobs are named after it and their line, so a line queued twice runs once. */
export const batchLineJobId = (batchId: string, line: number) => `${batchId}-${line}`;

/** Webhook deliveries: a static queue every api instance consumes, one job per (event, endpoint). */
export const WEBHOOK_QUEUE = 'webhooks';

export interface WebhookDeliveryJob {
  tenant: string;
  /** The tenant's endpoint, or null for the operator's (`WEBHOOK_URL`). */
  endpointId: string | null;
  /** The `webhook-id` of every attempt. */
  eventId: string;
  eventType: WebhookEventType;
  /** The event, serialized once, so that every attempt sends the same bytes. */
  body: string;
}

/** Every queue whose name is fixed; each worker's own sandbox queue comes on top of these. */
export const FIXED_QUEUES = [RESPONSES_QUEUE, WEBHOOK_QUEUE, BATCH_QUEUE, BATCH_LINE_QUEUE, SHARED_SANDBOX_QUEUE] as const;
