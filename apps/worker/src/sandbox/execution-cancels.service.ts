import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { CancelWatcher, ExecutionRepository, REDIS, type CancelListener } from '@cibox/storage';

/** Cancels of the executions this worker runs (the api's cancel route, a response whose client left). */
@Injectable()
export class ExecutionCancels implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionCancels.name);
  private readonly watcher: CancelWatcher;

  constructor(@Inject(REDIS) redis: Redis) {
    this.watcher = new CancelWatcher(redis, ExecutionRepository.cancelChannel, (err) => this.logger.warn(`cancel subscription: ${err.message}`));
  }

  onModuleInit(): Promise<void> {
    return this.watcher.start();
  }

  /** Listens for the execution's cancel; `ExecutionRepository.begin`, called after this, reads its mark. */
  listen(executionId: string, onCancel: () => void): CancelListener {
    return this.watcher.listen(executionId, onCancel);
  }

  onModuleDestroy(): Promise<void> {
    return this.watcher.close();
  }
}
