import { Module } from '@nestjs/common';
import { ContainersModule } from '../containers/containers.module';
import { SandboxesModule } from '../sandboxes/sandboxes.module';
import { ChatCompletionsController } from './chat-completions.controller';
import { ChatCompletionsService } from './chat-completions.service';

/** Chat Completions: the code_interpreter tool loop, or a proxy to the model upstream. */
@Module({
  imports: [ContainersModule, SandboxesModule],
  controllers: [ChatCompletionsController],
  providers: [ChatCompletionsService],
  exports: [ChatCompletionsService],
})
export class ChatModule {}
