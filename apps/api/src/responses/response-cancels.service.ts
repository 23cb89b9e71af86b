import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { CancelWatcher, REDIS, ResponseRepository } from '@cibox/storage';

/** Cancels of the background responses this api instance runs. */
@Injectable()
export class ResponseCancels implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ResponseCancels.name);
  private readonly watcher: CancelWatcher;

  constructor(
    @Inject(REDIS) redis: Redis,
    private readonly responses: ResponseRepository,
  ) {
    this.watcher = new CancelWatcher(redis, ResponseRepository.cancelChannel, (err) => this.logger.warn(`cancel subscription: ${err.message}`));
  }

  onModuleInit(): Promise<void> {
    return this.watcher.start();
  }

  watch(responseId: string, onCancel: () => void): Promise<() => void> {
    return this.watcher.watch(responseId, onCancel, (id) => this.responses.cancelRequested(id));
  }

  onModuleDestroy(): Promise<void> {
    return this.watcher.close();
  }
}
