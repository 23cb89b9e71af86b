import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import {
  NotFoundError,
  newId,
  nowSeconds,
  type CreateExecutionRequest,
  type ExecutionEvent,
  type ExecutionObject,
} from '@cibox/contracts';
import { LogContext, executionBoundMs, executionObject, type ExecuteJobData } from '@cibox/queue';
import { ExecutionRepository } from '@cibox/storage';
import { ContainersService } from '../containers/containers.service';
import { ExecutionEvents } from './execution-events.service';
import { SandboxControl } from '../sandboxes/sandbox-control.service';
import { QuotasService } from '../quotas/quotas.service';

/**
 * How long an execution may wait in the queue. The api waits this plus the worker's own bound for
 * the execution; past that it records the execution as failed, and a worker that picks it up later
 * finds it ended and does not run it.
 */
const QUEUE_WAIT_MS = 60_000;

@Injectable()
export class ExecutionsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly executions: ExecutionRepository,
    private readonly containers: ContainersService,
    private readonly sandboxes: SandboxControl,
    private readonly events: ExecutionEvents,
    private readonly quotas: QuotasService,
    private readonly log: LogContext,
  ) {}

  /**
   * Queues the code for the worker that owns the container and yields its events as they arrive,
   * ending with `done`. If the events stop (a worker died), the stored result or a failure ends it.
   */
  async *start(tenant: string, containerId: string, req: CreateExecutionRequest): AsyncGenerator<ExecutionEvent, void> {
    // Independent lookups, in parallel: the container (and its liveness) and the queue of its owner
    // (placing the container needs its memory limit, so only then does the routing wait for it).
    const active = this.containers.requireActive(tenant, containerId);
    const [container, queue] = await Promise.all([active, this.sandboxes.queueFor(containerId, active)]);
    const timeoutMs = Math.min(req.timeout_ms ?? this.config.sandbox.timeoutDefaultMs, this.config.sandbox.timeoutMaxMs);
    const { requestId, responseId } = this.log.current();
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
      requestId,
      responseId,
    };
    this.log.assign({ containerId: container.id, executionId: data.executionId });
    const waitMs = QUEUE_WAIT_MS + executionBoundMs(timeoutMs);
    // Held from before the job is queued to the end of this generator, whatever the outcome; should
    // this process die, the slot frees itself once the api would have given up on the execution.
    const release = await this.quotas.holdExecution(tenant, data.executionId, waitMs);
    const subscription = this.events.subscribe(data.executionId);
    const deadline = setTimeout(() => subscription.close(), waitMs);
    try {
      // The placeholder makes the id retrievable at once. Written alongside the job: with NX it can
      // never replace the worker's result, whichever lands first.
      const placeholder = executionObject(data, { status: 'in_progress' });
      const [placed, queued] = await Promise.allSettled([
        this.executions.placeholder({ tenant, execution: placeholder }),
        this.sandboxes.enqueue(queue, { name: 'execute', data }, data.executionId),
      ]);
      if (queued.status === 'rejected') {
        // Not queued: nothing will finish it, so no placeholder may say it is running.
        if (placed.status === 'fulfilled') await this.executions.discardPlaceholder(data.executionId).catch(() => undefined);
        throw queued.reason;
      }
      yield { type: 'created', execution: placeholder };
      for await (const event of subscription) {
        yield event;
        if (event.type === 'done') return;
      }
      yield { type: 'done', execution: await this.giveUp(data) };
    } finally {
      clearTimeout(deadline);
      subscription.close();
      await release().catch(() => undefined);
    }
  }

  /**
   * Asks the worker running the execution to interrupt it (it then ends `cancelled`); one still
   * queued ends `cancelled` without running. Harmless on a finished execution. Returns it as it stands.
   */
  async cancel(tenant: string, containerId: string, executionId: string): Promise<ExecutionObject> {
    const execution = await this.retrieve(tenant, containerId, executionId);
    if (execution.status === 'in_progress') await this.executions.requestCancel(executionId);
    return execution;
  }

  /** Cancels by id alone, for callers that started the execution themselves. */
  requestCancel(executionId: string): Promise<void> {
    return this.executions.requestCancel(executionId);
  }

  async retrieve(tenant: string, containerId: string, executionId: string): Promise<ExecutionObject> {
    const stored = await this.executions.get(executionId);
    if (!stored || stored.tenant !== tenant || stored.execution.container_id !== containerId) throw new NotFoundError('Execution', executionId);
    return stored.execution;
  }

  /**
   * The events stopped before `done` (past the deadline, or the api lost its subscription): the
   * stored result if the worker finished, else the execution is recorded as failed.
   */
  private async giveUp(data: ExecuteJobData): Promise<ExecutionObject> {
    const failed = executionObject(data, {
      status: 'failed',
      error: { name: 'SandboxError', value: 'No worker finished this execution in time.', traceback: [] },
    });
    return (await this.executions.finish({ tenant: data.tenant, execution: failed })).execution;
  }
}
