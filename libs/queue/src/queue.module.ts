import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { BullModule, getSharedConfigToken } from '@nestjs/bullmq';
import type { QueueOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { LogContext } from './log-context';
import { QueueProducers } from './queue-producers';

/**
 * The log scopes of requests and jobs, over the app's root logger: PinoLogger's logger, read outside
 * any request, is nestjs-pino's root, configured by the app's LoggerModule. An app without one logs
 * nothing through it.
 */
const logContext = {
  provide: LogContext,
  inject: [{ token: PinoLogger, optional: true }],
  useFactory: (logger?: PinoLogger) => new LogContext(logger?.logger ?? pino({ enabled: false })),
};

/**
 * BullMQ for a Nest app. BullModule's root options hold the one Redis connection that every queue,
 * producer and processor of the app shares (each bullmq `Worker` adds its own blocking connection);
 * this module opens it, and closes it once they are all closed. It also gives the app its
 * LogContext, whose ids jobs carry from the api to the workers.
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
      providers: [QueueProducers, logContext],
      exports: [QueueProducers, LogContext],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    // Global modules shut down last, after the queues and workers that use the connection.
    if (this.root.connection instanceof Redis) await this.root.connection.quit().catch(() => undefined);
  }
}
