import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@cibox/config';
import { QueueDashboard } from './queue-dashboard.service';

/** The operator's pages: the queue dashboard, made only when `ADMIN_KEY` is set. */
@Module({})
export class AdminModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers = config.adminKey ? [QueueDashboard] : [];
    return { module: AdminModule, providers, exports: providers };
  }
}
