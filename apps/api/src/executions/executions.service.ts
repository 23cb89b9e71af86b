import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import {
  NotFoundError,
  newId,
  nowSeconds,
  type CreateExecutionRequest,
  type ExecutionEvent,
  type ExecutionObject,
} from '@cibox/contracts';
import { redisKeys, type ExecuteJobData } from '@cibox/queue';
import { REDIS } from '@cibox/storage';
import { ContainersService } from '../containers/containers.service';
import { ExecutionEvents } from './execution-events.service';
import { SandboxControl } from './sandbox-control.service';

/** Beyond the cell's own timeout: time to queue, start a sandbox, and sync files. */
const EXECUTION_OVERHEAD_MS = 120_000;

@Injectable()
export class ExecutionsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly containers: ContainersService,
    private readonly sandboxes: SandboxControl,
    private readonly events: ExecutionEvents,
  ) {}

  /**
   * Queues the code for the worker that owns the container and yields its events as they arrive,
   * ending with `done`. If the events stop (a worker died), the stored result or a failure ends it.
   */
  async *start(tenant: string, containerId: string, req: CreateExecutionRequest): AsyncGenerator<ExecutionEvent, void> {
    // Independent lookups, in parallel: the container (and its liveness) and the queue of its owner.
    const [container, queue] = await Promise.all([this.containers.requireActive(tenant, containerId), this.sandboxes.queueFor(containerId)]);
    const timeoutMs = Math.min(req.timeout_ms ?? this.config.sandbox.timeoutDefaultMs, this.config.sandbox.timeoutMaxMs);
    const data: ExecuteJobData = {
      executionId: newId('execution'),
      containerId: container.id,
      tenant,
      code: req.code,
      timeoutMs,
      memoryLimit: container.memory_limit,
      createdAt: nowSeconds(),
      replyChannel: this.events.replyChannel,
      stream: req.stream === true,
    };
    const subscription = this.events.subscribe(data.executionId);
    const deadline = setTimeout(() => subscription.close(), timeoutMs + EXECUTION_OVERHEAD_MS);
    try {
      await this.sandboxes.enqueue(queue, { name: 'execute', data }, data.executionId);
      for await (const event of subscription) {
        yield event;
        if (event.type === 'done') return;
      }
      const stored = await this.load(data.executionId);
      yield { type: 'done', execution: stored?.execution ?? this.lost(data) };
    } finally {
      clearTimeout(deadline);
      subscription.close();
    }
  }

  async retrieve(tenant: string, containerId: string, executionId: string): Promise<ExecutionObject> {
    const stored = await this.load(executionId);
    if (!stored || stored.tenant !== tenant || stored.execution.container_id !== containerId) throw new NotFoundError('Execution', executionId);
    return stored.execution;
  }

  private async load(executionId: string): Promise<{ tenant: string; execution: ExecutionObject } | null> {
    const raw = await this.redis.get(redisKeys.execution(executionId));
    return raw ? (JSON.parse(raw) as { tenant: string; execution: ExecutionObject }) : null;
  }

  private lost(data: ExecuteJobData): ExecutionObject {
    return {
      id: data.executionId,
      object: 'container.execution',
      container_id: data.containerId,
      created_at: data.createdAt,
      status: 'failed',
      stdout: '',
      stderr: '',
      results: [],
      error: { name: 'SandboxError', value: 'No worker finished this execution in time.', traceback: [] },
      files: [],
      duration_ms: 0,
      state_lost: false,
      truncated: { stdout: false, stderr: false },
    };
  }
}
