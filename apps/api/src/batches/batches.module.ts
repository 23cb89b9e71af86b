import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import type { AppConfig } from '@cibox/config';
import { BATCH_LINE_QUEUE, BATCH_QUEUE } from '@cibox/queue';
import { ChatModule } from '../chat/chat.module';
import { BatchEndpoints } from './batch-endpoints.service';
import { BatchFiles } from './batch-files.service';
import { BatchLines } from './batch-lines.service';
import { BatchRunner } from './batch-runner.service';
import { BatchSignals } from './batch-signals';
import { batchProcessors } from './batch.processor';
import { BatchesController } from './batches.controller';
import { BatchesService } from './batches.service';

/** The Batch API, and the processors of its two queues that every api process runs. */
@Module({})
export class BatchesModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: BatchesModule,
      // ResponsesService comes from ResponsesModule, which is global.
      imports: [BullModule.registerQueue({ name: BATCH_QUEUE }, { name: BATCH_LINE_QUEUE }), ChatModule],
      controllers: [BatchesController],
      providers: [BatchesService, BatchEndpoints, BatchFiles, BatchLines, BatchRunner, BatchSignals, ...batchProcessors(config)],
    };
  }
}
