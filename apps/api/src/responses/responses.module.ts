import { Module } from '@nestjs/common';
import { ContainersModule } from '../containers/containers.module';
import { ExecutionsModule } from '../executions/executions.module';
import { ResponsesController } from './responses.controller';
import { ResponsesService } from './responses.service';
import { CodeSandbox } from './code-sandbox.service';

/** The Responses API with the code_interpreter tool. */
@Module({
  imports: [ContainersModule, ExecutionsModule],
  controllers: [ResponsesController],
  providers: [ResponsesService, CodeSandbox],
  exports: [ResponsesService, CodeSandbox],
})
export class ResponsesModule {}
