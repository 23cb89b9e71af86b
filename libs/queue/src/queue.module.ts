import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { BullModule, getSharedConfigToken } from '@nestjs/bullmq';
import type { QueueOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueProducers } from './queue-producers';

/**
 * BullMQ for a Nest app. BullModule's root options hold the one Redis connection that every queue,
 * producer and processor of the app shares (each bullmq `Worker` adds its own blocking connection);
 * this module opens it, and closes it once they are all closed.
 */
@Global()
@Module({})
export class QueueModule implements OnApplicationShutdown {
  constructor(@Inject(getSharedConfigToken()) private readonly root: QueueOptions) {}

  /** `consumers`: whether the app runs processors (bullmq `Worker`s) over this connection. */
  static forRoot(redisUrl: string, { consumers }: { consumers: boolean }): DynamicModule {
    return {
      module: QueueModule,
      imports: [
        BullModule.forRootAsync({
          useFactory: () => ({
            connection: new Redis(redisUrl, {
              // bullmq requires it of a connection its workers duplicate for blocking reads; an app
              // that only produces fails a queue call fast while Redis is away instead. (The api consumes
              // too: it runs background responses.)
              maxRetriesPerRequest: consumers ? null : 3,
              // Not auto-pipelined: bullmq's calls seldom share a tick, and each auto-pipeline copies
              // every script defined on the connection (bullmq defines about 50), some 50 µs per call
              // here, four or more times per execution.
              enableAutoPipelining: false,
            }),
          }),
        }),
      ],
      providers: [QueueProducers],
      exports: [QueueProducers],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    // Global modules shut down last, after the queues and workers that use the connection.
    if (this.root.connection instanceof Redis) await this.root.connection.quit().catch(() => undefined);
  }
}
