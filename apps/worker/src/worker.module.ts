import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '@cibox/config';
import { DockerSandboxDriver } from '@cibox/sandbox';
import { StorageModule, WorkerRegistry } from '@cibox/storage';
import { HeartbeatService } from './heartbeat/heartbeat.service';
import { ExecutionCancels } from './sandbox/execution-cancels.service';
import { ExecutionService } from './sandbox/execution.service';
import { FileSync } from './sandbox/file-sync.service';
import { ReaperService } from './sandbox/reaper.service';
import { SANDBOX_DRIVER, SandboxPool } from './sandbox/sandbox-pool.service';
import { SandboxQueueConsumer } from './sandbox/sandbox-queue.consumer';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        StorageModule.forRoot(config),
        LoggerModule.forRoot({ pinoHttp: { level: config.logLevel } }),
      ],
      providers: [
        {
          provide: SANDBOX_DRIVER,
          inject: [WorkerRegistry],
          useFactory: async (registry: WorkerRegistry) =>
            new DockerSandboxDriver({
              deployment: await registry.deploymentId(),
              image: config.sandbox.image,
              diskBytes: config.sandbox.diskBytes,
              pidsLimit: config.sandbox.pidsLimit,
              cpus: config.sandbox.cpus,
            }),
        },
        HeartbeatService,
        SandboxPool,
        FileSync,
        ExecutionService,
        ExecutionCancels,
        ReaperService,
        SandboxQueueConsumer,
      ],
    };
  }
}
