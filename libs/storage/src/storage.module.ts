import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { MinioObjectStore } from './minio-object-store';
import { ExecutionRepository } from './execution.repository';
import { ResponseRepository } from './response.repository';
import { BatchRepository } from './batch.repository';
import { REDIS_SCRIPTS } from './scripts';
import { ContainerFileRepository, ContainerRepository, FileRepository } from './repositories';
import { WorkerRegistry } from './worker-registry';
import { QuotaRepository } from './quota.repository';
import { WebhookDeliveryRepository, WebhookEndpointRepository } from './webhook.repository';
import { OBJECT_STORE, REDIS } from './tokens';

/** Config, Redis, the object store and the metadata repositories, for any Nest app of ours. */
@Global()
@Module({})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: StorageModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: REDIS, useFactory: () => new Redis(config.redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true, scripts: REDIS_SCRIPTS }) },
        { provide: OBJECT_STORE, useFactory: () => new MinioObjectStore(config.s3) },
        { provide: FileRepository, useFactory: (r: Redis) => new FileRepository(r), inject: [REDIS] },
        { provide: ContainerRepository, useFactory: (r: Redis) => new ContainerRepository(r), inject: [REDIS] },
        { provide: ContainerFileRepository, useFactory: (r: Redis) => new ContainerFileRepository(r), inject: [REDIS] },
        { provide: ExecutionRepository, useFactory: (r: Redis) => new ExecutionRepository(r), inject: [REDIS] },
        { provide: WorkerRegistry, useFactory: (r: Redis) => new WorkerRegistry(r), inject: [REDIS] },
        { provide: QuotaRepository, useFactory: (r: Redis) => new QuotaRepository(r), inject: [REDIS] },
        { provide: ResponseRepository, useFactory: (r: Redis) => new ResponseRepository(r, config.responseTtlS), inject: [REDIS] },
        { provide: BatchRepository, useFactory: (r: Redis) => new BatchRepository(r), inject: [REDIS] },
        { provide: WebhookEndpointRepository, useFactory: (r: Redis) => new WebhookEndpointRepository(r), inject: [REDIS] },
        { provide: WebhookDeliveryRepository, useFactory: (r: Redis) => new WebhookDeliveryRepository(r), inject: [REDIS] },
      ],
      exports: [
        APP_CONFIG,
        REDIS,
        OBJECT_STORE,
        FileRepository,
        ContainerRepository,
        ContainerFileRepository,
        ExecutionRepository,
        WorkerRegistry,
        QuotaRepository,
        ResponseRepository,
        BatchRepository,
        WebhookEndpointRepository,
        WebhookDeliveryRepository,
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
