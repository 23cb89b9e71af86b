import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '@cibox/config';
import { StorageModule } from '@cibox/storage';
import { HeartbeatService } from './heartbeat/heartbeat.service';
import { SandboxQueueConsumer } from './sandbox/sandbox-queue.consumer';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        StorageModule.forRoot(config),
        LoggerModule.forRoot({ pinoHttp: { level: config.logLevel }, renameContext: 'context' }),
      ],
      providers: [HeartbeatService, SandboxQueueConsumer],
    };
  }
}
