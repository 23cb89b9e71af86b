import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { ExecutionRepository, REDIS } from '@cibox/storage';

/**
 * Cancels of executions this worker runs. The api marks an execution cancelled and announces it on
 * one channel every worker hears; the worker running it interrupts the cell. Register before checking
 * the mark, so a cancel is either heard or found.
 */
@Injectable()
export class ExecutionCancels implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionCancels.name);
  private readonly subscriber: Redis;
  private readonly running = new Map<string, () => void>();

  constructor(
    @Inject(REDIS) redis: Redis,
    private readonly executions: ExecutionRepository,
  ) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (_channel: string, executionId: string) => this.running.get(executionId)?.());
    this.subscriber.on('error', (err: Error) => this.logger.warn(`cancel subscription: ${err.message}`));
  }

  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(ExecutionRepository.cancelChannel);
  }

  /**
   * Calls `onCancel` (at most once) if the execution is or gets cancelled while registered.
   * Returns the unregister function.
   */
  async watch(executionId: string, onCancel: () => void): Promise<() => void> {
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      onCancel();
    };
    this.running.set(executionId, fire);
    if (await this.executions.cancelRequested(executionId)) fire();
    return () => this.running.delete(executionId);
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
