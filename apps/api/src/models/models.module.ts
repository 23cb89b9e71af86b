import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@cibox/config';
import { MODEL_CLIENT, createModelClient } from '@cibox/model';
import { ModelsController } from './models.controller';

/** The model upstreams: the ModelClient (MODEL_CLIENT, global) and `GET /v1/models`. */
@Module({})
export class ModelsModule {
  /**
   * Builds the client here, outside Nest's injector, so a bad MODELS_FILE throws its ConfigError
   * out of `AppModule.forRoot` and main prints it (an error inside a provider factory makes Nest
   * log it its own way and abort the process).
   */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ModelsModule,
      global: true,
      providers: [{ provide: MODEL_CLIENT, useValue: createModelClient(config.model) }],
      controllers: [ModelsController],
      exports: [MODEL_CLIENT],
    };
  }
}
