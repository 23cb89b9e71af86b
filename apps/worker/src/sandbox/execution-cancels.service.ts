import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { CancelWatcher, ExecutionRepository, REDIS } from '@cibox/storage';

/** Cancels of the executions this worker runs (the api's cancel route, a response whose client left). */
@Injectable()
export class ExecutionCancels implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionCancels.name);
  private readonly watcher: CancelWatcher;

  constructor(@Inject(REDIS) redis: Redis, executions: ExecutionRepository) {
    this.watcher = new CancelWatcher(redis, ExecutionRepository.cancelChannel, (id) => executions.cancelRequested(id), (err) =>
      this.logger.warn(`cancel subscription: ${err.message}`),
    );
  }

  onModuleInit(): Promise<void> {
    return this.watcher.start();
  }

  watch(executionId: string, onCancel: () => void): Promise<() => void> {
    return this.watcher.watch(executionId, onCancel);
  }

  onModuleDestroy(): Promise<void> {
    return this.watcher.close();
  }
}
