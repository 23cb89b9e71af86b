import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import type { AppConfig } from '@cibox/config';
import { RESPONSES_QUEUE } from '@cibox/queue';
import { ContainersModule } from '../containers/containers.module';
import { ExecutionsModule } from '../executions/executions.module';
import { backgroundResponsesProcessor } from './background.processor';
import { CodeSandbox } from './code-sandbox.service';
import { ResponseCancels } from './response-cancels.service';
import { ResponsesController } from './responses.controller';
import { ResponsesService } from './responses.service';

/** The Responses API with the code_interpreter tool, foreground and background. */
@Module({})
export class ResponsesModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ResponsesModule,
      global: true,
      imports: [ContainersModule, ExecutionsModule, BullModule.registerQueue({ name: RESPONSES_QUEUE })],
      controllers: [ResponsesController],
      providers: [ResponsesService, CodeSandbox, ResponseCancels, backgroundResponsesProcessor(config)],
      exports: [ResponsesService, CodeSandbox],
    };
  }
}
