import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ModelNotFoundError } from '@cibox/contracts';
import { MODEL_CLIENT, type ModelClient } from '@cibox/model';

/** OpenAI's Models API, listing what the configured upstreams serve (see ModelClient.listModels). */
@Controller('v1/models')
export class ModelsController {
  constructor(@Inject(MODEL_CLIENT) private readonly models: ModelClient) {}

  @Get()
  async list() {
    return { object: 'list', data: await this.models.listModels() };
  }

  @Get(':model')
  async retrieve(@Param('model') id: string) {
    const model = (await this.models.listModels()).find((m) => m.id === id);
    if (!model) throw new ModelNotFoundError(id);
    return model;
  }
}
