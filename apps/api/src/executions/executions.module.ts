import { Module } from '@nestjs/common';
import { ContainersModule } from '../containers/containers.module';
import { SandboxesModule } from '../sandboxes/sandboxes.module';
import { ExecutionEvents } from './execution-events.service';
import { ExecutionsController } from './executions.controller';
import { ExecutionsService } from './executions.service';

/** Our executions extension: code run in a container's sandbox, as JSON or an SSE stream. */
@Module({
  imports: [ContainersModule, SandboxesModule],
  controllers: [ExecutionsController],
  providers: [ExecutionEvents, ExecutionsService],
  exports: [ExecutionsService],
})
export class ExecutionsModule {}
