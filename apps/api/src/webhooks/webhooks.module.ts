import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import type { AppConfig } from '@cibox/config';
import { WEBHOOK_QUEUE } from '@cibox/queue';
import { WEBHOOK_EMITTER } from '../common/webhook-events';
import { webhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhookEndpointsController } from './webhook-endpoints.controller';
import { WebhookEndpointsService } from './webhook-endpoints.service';

/**
 * Webhooks: tenants' endpoints (`/v1/webhook_endpoints`), the `webhooks` delivery queue and its
 * processor, and WEBHOOK_EMITTER (global) for whatever announces that background work ended.
 */
@Module({})
export class WebhooksModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WebhooksModule,
      global: true,
      imports: [BullModule.registerQueue({ name: WEBHOOK_QUEUE })],
      controllers: [WebhookEndpointsController],
      providers: [
        WebhookDispatcher,
        { provide: WEBHOOK_EMITTER, useExisting: WebhookDispatcher },
        WebhookEndpointsService,
        webhookDeliveryProcessor(config),
      ],
      exports: [WEBHOOK_EMITTER],
    };
  }
}
