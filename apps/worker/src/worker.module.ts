import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '@cibox/config';
import { QUEUE_WAITS, QueueModule, SHARED_SANDBOX_QUEUE, workerSandboxQueue } from '@cibox/queue';
import { DockerSandboxDriver } from '@cibox/sandbox';
import { StorageModule, WorkerRegistry } from '@cibox/storage';
import { DrainService } from './drain/drain.service';
import { HeartbeatService } from './heartbeat/heartbeat.service';
import { WorkerMetrics } from './metrics/worker-metrics.service';
import { ExecutionCancels } from './sandbox/execution-cancels.service';
import { ExecutionService } from './sandbox/execution.service';
import { FileSync } from './sandbox/file-sync.service';
import { ReaperService } from './sandbox/reaper.service';
import { SandboxEngine } from './sandbox/sandbox-engine.service';
import { SANDBOX_DRIVER, SandboxPool } from './sandbox/sandbox-pool.service';
import { sandboxProcessors } from './sandbox/sandbox.processor';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        StorageModule.forRoot(config),
        QueueModule.forRoot(config.redisUrl, { consumers: true }),
        // The queues this worker consumes; its own is named after its id, known only now.
        BullModule.registerQueue({ name: SHARED_SANDBOX_QUEUE }, { name: workerSandboxQueue(config.workerId) }),
        LoggerModule.forRoot({ pinoHttp: { level: config.logLevel } }),
      ],
      providers: [
        {
          provide: SANDBOX_DRIVER,
          inject: [WorkerRegistry],
          useFactory: async (registry: WorkerRegistry) =>
            new DockerSandboxDriver({
              engine: config.docker,
              deployment: await registry.deploymentId(),
              image: config.sandbox.image,
              diskBytes: config.sandbox.diskBytes,
              pidsLimit: config.sandbox.pidsLimit,
              cpus: config.sandbox.cpus,
            }),
        },
        SandboxEngine,
        HeartbeatService,
        SandboxPool,
        FileSync,
        ExecutionService,
        ExecutionCancels,
        ReaperService,
        WorkerMetrics,
        DrainService,
        { provide: QUEUE_WAITS, useFactory: (metrics: WorkerMetrics) => metrics.queueWaits, inject: [WorkerMetrics] },
        ...sandboxProcessors(config),
      ],
    };
  }
}
